using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker;

/// <summary>
/// Screens one upload: validate → read media → decode → PDQ → decision cache → classifier (batched) →
/// policy → one decision record on the action's topic. Bad input becomes a DLQ record with the contract's
/// code. Content that could not be screened is never allowed: it goes to review or the DLQ, as the policy says.
/// </summary>
public sealed class ScreeningPipeline : IUploadHandler, IDisposable
{
    public const string TraceParentHeader = "traceparent";

    private readonly KafkaOptions _kafka;
    private readonly ScreeningOptions _options;
    private readonly Policy _policy;
    private readonly MediaReader _media;
    private readonly DynamicBatcher _batcher;
    private readonly IDecisionCache? _cache;
    private readonly ScreeningStats _stats;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ThreadLocal<PdqHasher> _hasher = new(() => new PdqHasher());
    private readonly BankMatcher? _banks;
    private readonly bool _banksFailClosed;
    private readonly VideoScreener _video;
    private readonly MediaFetchResilience _mediaRetry;
    private readonly Func<Policy>? _currentPolicy;
    private readonly ShadowDecisions? _shadow;

    /// <param name="currentPolicy">The policy in force now (<see cref="PolicyWatcher.Current"/>: hot reload); null = <paramref name="policy"/> always.</param>
    /// <param name="shadow">Would-be decisions of the shadow model (its classifier wraps the batcher's), published beside the live ones.</param>
    public ScreeningPipeline(KafkaOptions kafka, ScreeningOptions options, Policy policy, MediaReader media,
        DynamicBatcher batcher, IDecisionCache? cache, ScreeningStats stats, ILogger logger, TimeProvider? time = null,
        BankMatcher? banks = null, bool banksFailClosed = true, Func<Policy>? currentPolicy = null, ShadowDecisions? shadow = null,
        MediaFetchResilience? mediaRetry = null)
    {
        _mediaRetry = mediaRetry ?? new MediaFetchResilience(new MediaRetryOptions(), time);
        _currentPolicy = currentPolicy;
        _shadow = shadow;
        _banks = banks;
        _banksFailClosed = banksFailClosed;
        media.Options.Decode.Validate();
        _video = new VideoScreener(media.Options.Video, policy, batcher, cache, VideoScreener.BanksOf(banks), banksFailClosed, stats, logger, time);
        _kafka = kafka;
        _options = options;
        _policy = policy;
        _media = media;
        _batcher = batcher;
        _cache = cache;
        _stats = stats;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The policy in force; an upload reads it once and is decided by that one policy throughout.</summary>
    public Policy Policy => _currentPolicy?.Invoke() ?? _policy;
    public string ModelVersion => _batcher.Classifier.Model.VersionedName;

    public async Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
    {
        long started = _time.GetTimestamp();
        using var activity = StartActivity(upload);
        var source = new SourceInfo(upload.Topic, upload.Partition.Value, upload.Offset.Value);
        UploadEvent? parsed = null;
        var policy = Policy;
        try
        {
            parsed = UploadEventParser.Parse(upload.Message.Value ?? []);
            activity?.SetTag("moderation.content_id", parsed.ContentId);
            if (parsed.MediaType is not (MediaTypes.Image or MediaTypes.Video))
                throw new ModerationException(ErrorCodes.UnsupportedMedia, $"media_type '{parsed.MediaType}' is not screened by this worker version");
            byte[] bytes;
            using (Stage("fetch")) bytes = await _mediaRetry.ReadAsync(token => _media.ReadAsync(parsed.Media, token), ct).ConfigureAwait(false);
            if (parsed.MediaType == MediaTypes.Video)
            {
                // One decision per video (VideoScreener.cs): sampled frames, PDQ, banks, the same batcher, the policy.
                var video = await _video.ScreenAsync(parsed.ContentId, bytes, source, started, ct, policy, parsed.Surface).ConfigureAwait(false);
                return [video.Decision is { } d ? Publish(upload, activity, d) : Unscreenable(policy, upload, activity, parsed.ContentId, source, started, null, video.Unscreenable!)];
            }
            if (AnimatedImageDecoder.IsAnimated(bytes))
            {
                // Every frame a viewer can see (VideoScreener.ScreenAnimationAsync): hashed, bank-matched, sampled for the model.
                var animation = await _video.ScreenAnimationAsync(parsed.ContentId, bytes, _media.Options.Decode, source, started, ct, policy, parsed.Surface).ConfigureAwait(false);
                return [animation.Decision is { } d ? Publish(upload, activity, d) : Unscreenable(policy, upload, activity, parsed.ContentId, source, started, null, animation.Unscreenable!)];
            }
            DecodedImage image;
            using (var decode = Stage("decode"))
            {
                image = await ImageDecoder.DecodeAsync(bytes, _media.Options.Decode, ct).ConfigureAwait(false);
                decode?.SetTag("moderation.decode.scale", image.ScaleDenominator); // 1 = full, 2/4/8 = JPEG DCT-scaled
                decode?.SetTag("moderation.decode.orientation", image.StoredOrientation); // EXIF 1-8, applied: pixels are upright
            }
            Hashing.PdqResult pdq;
            using (Stage("hash")) pdq = _hasher.Value!.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            var pdqInfo = new PdqInfo(pdq.Hash.ToString(), pdq.Quality);

            // Known content comes down without inference. While the banks cannot be trusted, a cached allow is not
            // reused and new decisions are not cached (they may be fail-closed reviews).
            var bankSpan = _banks is null ? null : Stage("bank lookup");
            var bank = _banks?.Match(pdq.Hash, pdq.Quality, _banks.Options.Match.Dihedral ? _hasher.Value!.DihedralOfLast() : null);
            bankSpan?.SetTag("moderation.bank.matched", bank?.Match is not null);
            bankSpan?.Dispose();
            // A bank whose policy rule is review sends the match to review and still lets the model take it down.
            DecisionReason? bankReview = null;
            if (bank is { Match: { } bankMatch })
            {
                if (policy.BankAction(bankMatch.Bank) == Actions.Takedown)
                    return [Publish(upload, activity, BankTakedown(policy, parsed.ContentId, bankMatch, pdqInfo, source, started))];
                bankReview = BankReason(bankMatch);
            }
            bool banksUnavailable = bank is { Status: BankLookupStatus.Unavailable };

            var cacheKey = new DecisionCacheKey(pdqInfo.Hash, policy.CacheVersion(parsed.Surface), ModelVersion);
            bool cacheable = _cache is not null && pdq.Quality >= _options.MinCacheQuality && bankReview is null;
            if (cacheable && await TryCachedAsync(cacheKey, ct).ConfigureAwait(false) is { } hit && !(banksUnavailable && hit.Action == Actions.Allow))
                return [Publish(upload, activity, hit with { ContentId = parsed.ContentId, Cached = true, DecidedAt = _time.GetUtcNow(), LatencyMs = Elapsed(started), Source = source })];

            ClassScores scores;
            try
            {
                using (Stage("inference")) scores = await _batcher.ClassifyAsync(image, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return [Unscreenable(policy, upload, activity, parsed.ContentId, source, started, pdqInfo, e)];
            }
            var scoreMap = scores.ToDictionary();
            var policySpan = Stage("policy");
            var (action, reasons) = policy.Decide(_batcher.Classifier.Model.Name, scoreMap, parsed.Surface);
            policySpan?.Dispose();
            if (bankReview is not null)
                (action, reasons) = (Actions.AtLeastReview(action), [bankReview, .. reasons]);
            if (banksUnavailable && _banksFailClosed && action == Actions.Allow)
                (action, reasons) = (Actions.Review, [.. reasons, new DecisionReason { Source = "fail-closed", Code = "banks-unavailable", Message = "hash banks unavailable: not allowed on the model alone" }]);
            var decision = new DecisionEvent
            {
                ContentId = parsed.ContentId,
                Action = action,
                Reasons = reasons,
                Scores = scoreMap,
                Pdq = pdqInfo,
                PolicyVersion = policy.Version,
                ModelVersion = ModelVersion,
                Cached = false,
                DecidedAt = _time.GetUtcNow(),
                LatencyMs = Elapsed(started),
                Source = source,
            };
            if (cacheable && !banksUnavailable) await StoreAsync(cacheKey, decision, ct).ConfigureAwait(false);
            var live = Publish(upload, activity, decision);
            // The shadow's would-be decision comes after the live one is made and never changes it.
            return _shadow?.Decide(policy, parsed.Surface, scores, decision, banksUnavailable && _banksFailClosed) is { } shadowRecord ? [live, shadowRecord] : [live];
        }
        catch (ModerationException e) when (e.Code != ErrorCodes.Internal)
        {
            _logger.LogInformation("DLQ {Code} for {ContentId} at {Source}: {Message}", e.Code, parsed?.ContentId ?? "?", upload.TopicPartitionOffset, e.Message);
            activity?.SetStatus(ActivityStatusCode.Error, e.Code);
            _stats.DeadLetter(e.Code);
            return [DeadLetter.Create(_kafka, upload, e.Code, e.Message)];
        }
    }

    private static DecisionReason BankReason(Hashing.Banks.BankMatch match) =>
        new() { Source = "bank", Bank = match.Bank, Distance = match.Distance, MatchId = match.Id };

    private DecisionEvent BankTakedown(Policy policy, string contentId, Hashing.Banks.BankMatch match, PdqInfo pdq, SourceInfo source, long started) => new()
    {
        ContentId = contentId,
        Action = Actions.Takedown,
        Reasons = [BankReason(match)],
        Pdq = pdq,
        PolicyVersion = policy.Version,
        DecidedAt = _time.GetUtcNow(),
        LatencyMs = Elapsed(started),
        Source = source,
    };

    private OutboundMessage Unscreenable(Policy policy, ConsumeResult<byte[]?, byte[]?> upload, Activity? activity, string contentId, SourceInfo source, long started, PdqInfo? pdq, Exception error)
    {
        _logger.LogError(error, "Could not screen {ContentId}: failing closed ({Mode})", contentId, policy.Unscreenable);
        activity?.SetStatus(ActivityStatusCode.Error, "unscreenable");
        if (policy.Unscreenable != Actions.Review)
        {
            _stats.DeadLetter(ErrorCodes.Internal);
            return DeadLetter.Create(_kafka, upload, ErrorCodes.Internal, error.Message);
        }
        var decision = new DecisionEvent
        {
            ContentId = contentId,
            Action = Actions.Review,
            Reasons = [new DecisionReason { Source = "fail-closed", Code = ErrorCodes.Internal, Message = error.Message }],
            Pdq = pdq,
            PolicyVersion = policy.Version,
            ModelVersion = ModelVersion,
            DecidedAt = _time.GetUtcNow(),
            LatencyMs = Elapsed(started),
            Source = source,
        };
        return Publish(upload, activity, decision);
    }

    private async Task<DecisionEvent?> TryCachedAsync(DecisionCacheKey key, CancellationToken ct)
    {
        using var span = Stage("cache lookup");
        try
        {
            var cached = await _cache!.TryGetAsync(key, ct).ConfigureAwait(false);
            return cached is null ? null : DecisionEvent.FromUtf8Json(Encoding.UTF8.GetBytes(cached.DecisionJson));
        }
        catch (StoreUnavailableException e)
        {
            _stats.CacheUnavailable();
            _logger.LogWarning("Decision cache unavailable, screening with the model: {Message}", e.Message);
            return null;
        }
    }

    private async Task StoreAsync(DecisionCacheKey key, DecisionEvent decision, CancellationToken ct)
    {
        using var span = Stage("cache store");
        try
        {
            var json = Encoding.UTF8.GetString(decision.ToUtf8Json());
            await _cache!.SetAsync(key, new CachedDecision(decision.Action, json, decision.DecidedAt), ct).ConfigureAwait(false);
        }
        catch (StoreUnavailableException e)
        {
            _stats.CacheUnavailable();
            _logger.LogWarning("Decision cache unavailable, decision not cached: {Message}", e.Message);
        }
    }

    private OutboundMessage Publish(ConsumeResult<byte[]?, byte[]?> upload, Activity? activity, DecisionEvent decision)
    {
        using var span = Stage("publish");
        span?.SetTag("messaging.destination.name", _kafka.TopicFor(decision.Action));
        activity?.SetTag("moderation.action", decision.Action);
        activity?.SetTag("moderation.policy_version", decision.PolicyVersion);
        activity?.SetTag("moderation.model_version", decision.ModelVersion);
        _stats.Decision(decision.Action, decision.Cached, decision.LatencyMs,
            decision.Cached ? "cache" : decision.Reasons.Any(r => r.Source == "fail-closed") ? "fail-closed" : decision.Reasons.FirstOrDefault()?.Source ?? "model");
        var headers = new Headers();
        var traceparent = activity?.Id ?? UploadTraceParent(upload);
        if (traceparent is not null) headers.Add(TraceParentHeader, Encoding.ASCII.GetBytes(traceparent));
        return new OutboundMessage(_kafka.TopicFor(decision.Action), Encoding.UTF8.GetBytes(decision.ContentId), decision.ToUtf8Json(), headers);
    }

    /// <summary>A child span of the upload's span for one stage (fetch, decode, hash, bank lookup, cache lookup, inference, policy, publish).</summary>
    private static Activity? Stage(string name) => WorkerTelemetry.Source.StartActivity(name, ActivityKind.Internal);

    private Activity? StartActivity(ConsumeResult<byte[]?, byte[]?> upload)
    {
        ActivityContext parent = default;
        if (Header(upload, TraceParentHeader) is { } traceparent)
            ActivityContext.TryParse(traceparent, null, out parent);
        var activity = WorkerTelemetry.Source.StartActivity($"process {upload.Topic}", ActivityKind.Consumer, parent);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", upload.Topic);
            activity.SetTag("messaging.consumer.group.name", _kafka.GroupId);
            activity.SetTag("messaging.destination.partition.id", upload.Partition.Value.ToString());
            activity.SetTag("messaging.kafka.offset", upload.Offset.Value);
        }
        return activity;
    }

    /// <summary>The upload's <c>traceparent</c> when it parses as a W3C trace context, written anew from what was parsed
    /// (55 characters of hex and dashes); none otherwise. The header's bytes never reach the decision as they came: they
    /// may hold control characters, a forged line, or as much as the upload topic allows.</summary>
    private static string? UploadTraceParent(ConsumeResult<byte[]?, byte[]?> upload) =>
        Header(upload, TraceParentHeader) is { } raw && ActivityContext.TryParse(raw, null, out var context)
            ? $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{((context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}"
            : null;

    private static string? Header(ConsumeResult<byte[]?, byte[]?> upload, string name) =>
        upload.Message.Headers is { } headers && headers.TryGetLastBytes(name, out var value) ? Encoding.ASCII.GetString(value) : null;

    private long Elapsed(long started) => (long)_time.GetElapsedTime(started).TotalMilliseconds;

    /// <summary>Releases the video screener's decoder (its frame buffers and temporary files); the components it was built from are the caller's.</summary>
    public void Dispose() => _video.Dispose();
}
