using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker;

/// <summary>
/// One upload from record to outbound messages: parse → fetch → route to its screener (<see cref="ImageScreener"/> for a
/// still image, <see cref="VideoScreener"/> for a video or an animated image, <see cref="TextScreener"/> for a text item,
/// which has no media to fetch; captions are screened by the image and video screeners) → the uploader and campaign rules
/// over that decision (<see cref="UploaderRules"/>) → publish the decision on its action's topic. Every decision is made by the <see cref="Decider"/> (<see cref="Decider.Decide"/> inside the screener, <see cref="Decider.ForUploader"/> over it); this class makes none. Bad input
/// becomes a DLQ record with the contract's code; an upload that could not be screened is published as the screener's
/// fail-closed decision, or sent to the DLQ when the policy says so.
/// </summary>
public sealed class ScreeningPipeline : IUploadHandler, IDisposable
{
    public const string TraceParentHeader = "traceparent";

    private readonly KafkaOptions _kafka;
    private readonly MediaReader _media;
    private readonly ScreenerServices _services;
    private readonly Func<Policy> _policy;
    private readonly ImageScreener _images;
    private readonly VideoScreener _videos;
    private readonly TextScreener _texts;
    private readonly EventLimits _limits;
    private readonly MediaFetchResilience _mediaRetry;
    private readonly bool _bankTrials;

    /// <param name="policy">The policy in force now (<see cref="PolicyWatcher.Current"/> under hot reload); read once per upload.</param>
    /// <param name="shadow">Would-be decisions of the shadow model (its classifier wraps the batcher's), published beside the live ones.</param>
    /// <param name="bankTrials">Publish would-have-matched records of banks tried on a share of uploads to the shadow topic
    /// (a worker; not a replay, which writes nothing there).</param>
    public ScreeningPipeline(KafkaOptions kafka, ScreeningOptions options, MediaReader media, ScreenerServices services, Func<Policy> policy,
        ShadowDecisions? shadow = null, MediaFetchResilience? mediaRetry = null, EventLimits? limits = null, bool bankTrials = true)
    {
        _bankTrials = bankTrials;
        _limits = limits ?? EventLimits.Default;
        media.Options.Decode.Validate();
        _kafka = kafka;
        _media = media;
        _services = services;
        _policy = policy;
        _mediaRetry = mediaRetry ?? new MediaFetchResilience(new MediaRetryOptions(), services.Time);
        _images = new ImageScreener(services, media.Options.Decode, options.MinCacheQuality, shadow,
            options.ExactDuplicates > 0 ? new ExactDuplicates(Math.Max(2, options.ExactDuplicates)) : null);
        _videos = new VideoScreener(media.Options.Video, services, VideoScreener.BanksOf(services.Banks));
        _texts = new TextScreener(services);
    }

    /// <summary>The policy in force; an upload reads it once and is decided by that one policy throughout.</summary>
    public Policy Policy => _policy();
    public string ModelVersion => _services.ModelVersion;

    public async Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
    {
        long started = _services.Time.GetTimestamp();
        using var activity = StartActivity(upload);
        var source = new SourceInfo(upload.Topic, upload.Partition.Value, upload.Offset.Value);
        UploadEvent? parsed = null;
        var policy = Policy;
        try
        {
            parsed = UploadEventParser.Parse(upload.Message.Value ?? [], _limits);
            activity?.SetTag("moderation.content_id", parsed.ContentId);
            if (parsed.MediaType == MediaTypes.Text)
                return Publish(upload, activity, parsed.ContentId, policy,
                    await WithUploader(policy, parsed, await _texts.ScreenAsync(parsed.ContentId, parsed.Text!, policy, source, started, ct).ConfigureAwait(false), ct).ConfigureAwait(false));
            if (parsed.MediaType is not (MediaTypes.Image or MediaTypes.Video) || parsed.Media is not { } media)
                throw new ModerationException(ErrorCodes.UnsupportedMedia, $"media_type '{parsed.MediaType}' is not screened by this worker version");
            byte[] bytes;
            using (Stages.Start("fetch")) bytes = await _mediaRetry.ReadAsync(media, token => _media.ReadAsync(media, token), ct).ConfigureAwait(false);
            // Exact file-hash banks first, before anything decodes the bytes: a known file comes down even when nothing
            // could decode it. Matches that do not settle it (a review or suppress bank) go on with the PDQ banks'. While
            // the policy has a suppress bank, a PDQ match in it may still cancel the takedown: the media is screened, and
            // the digest's decision stands only if the media cannot be decoded.
            var exact = _services.ExactMatch(bytes);
            var known = exact.Hits.Count > 0 ? await SettledByDigestAsync(parsed, policy, exact, source, started, ct).ConfigureAwait(false) : null;
            if (known is not null && !policy.Banks.Values.Any(r => r.Action == PolicyBankRule.Suppress))
                return Publish(upload, activity, parsed.ContentId, policy, await WithUploader(policy, parsed, known, ct).ConfigureAwait(false));
            Screened screened;
            try
            {
                screened = await ScreenMediaAsync(parsed, bytes, policy, source, started, exact, ct).ConfigureAwait(false);
            }
            catch (ModerationException e) when (known is not null && e.Code != ErrorCodes.Internal)
            {
                screened = known; // undecodable, and a known file all the same
            }
            return Publish(upload, activity, parsed.ContentId, policy, await WithUploader(policy, parsed, screened, ct).ConfigureAwait(false));
        }
        catch (ModerationException e) when (e.Code != ErrorCodes.Internal)
        {
            _services.Logger.LogInformation("DLQ {Code} for {ContentId} at {Source}: {Message}", e.Code, parsed?.ContentId ?? "?", upload.TopicPartitionOffset, e.Message);
            activity?.SetStatus(ActivityStatusCode.Error, e.Code);
            _services.Stats.DeadLetter(e.Code);
            return [WithDecisionId(DeadLetter.Create(_kafka, upload, e.Code, e.Message), upload, parsed?.ContentId, policy.Version)];
        }
    }

    /// <summary>Routes fetched media to its screener, with what the exact file-hash banks said about it.</summary>
    /// <exception cref="ModerationException">The media itself is bad (unsupported, too large, undecodable).</exception>
    private async Task<Screened> ScreenMediaAsync(UploadEvent parsed, byte[] bytes, Policy policy, SourceInfo source, long started, BankSignal exact, CancellationToken ct) =>
        parsed.MediaType == MediaTypes.Video
            // One decision per video: sampled frames, PDQ, banks, the same batcher.
            ? await _videos.ScreenAsync(parsed.ContentId, bytes, parsed.Caption, policy, parsed.Surface, source, started, ct, exact).ConfigureAwait(false)
            : AnimatedImageDecoder.IsAnimated(bytes)
                // Every frame a viewer can see: hashed, bank-matched, sampled for the model.
                ? await _videos.ScreenAnimationAsync(parsed.ContentId, bytes, parsed.Caption, _media.Options.Decode, policy, parsed.Surface, source, started, ct, exact).ConfigureAwait(false)
                : await _images.ScreenAsync(parsed.ContentId, bytes, parsed.Caption, policy, parsed.Surface, source, started, ct, exact).ConfigureAwait(false);

    /// <summary>The decision when the exact file-hash banks' matches settle the upload (a takedown bank, after the policy's
    /// suppress and per-bank rules and flood quarantine), made without decoding it; null when they do not.</summary>
    private async Task<Screened?> SettledByDigestAsync(UploadEvent upload, Policy policy, BankSignal exact, SourceInfo source, long started, CancellationToken ct)
    {
        var banks = await _services.WithFloodsAsync(policy, exact, upload.ContentId, ct).ConfigureAwait(false);
        var signals = await _services.WithTextAsync(new UploadSignals { ContentId = upload.ContentId, Surface = upload.Surface, Banks = banks, BanksFailClosed = _services.BanksFailClosed },
            upload.Caption, TextHit.CaptionField, ct).ConfigureAwait(false);
        return Decider.Settled(policy, signals) is { } settled
            ? _services.ToScreened(settled, upload.ContentId, policy, null, source, started)
            : null;
    }

    /// <summary>The uploader's history and campaigns over the content's decision (after the screener cached it).</summary>
    private async Task<Screened> WithUploader(Policy policy, UploadEvent upload, Screened screened, CancellationToken ct) =>
        screened.Decision is { } decision
            ? screened with { Decision = await _services.Uploaders.ApplyAsync(policy, upload, decision, ct).ConfigureAwait(false) }
            : screened;

    /// <summary>An upload whose screening threw (the service failed, not the input) is decided like one the model could
    /// not score: by <see cref="Decider.Decide"/> under the policy's <c>unscreenable</c> (a fail-closed review, or the DLQ).</summary>
    public IReadOnlyList<OutboundMessage>? Unhandled(ConsumeResult<byte[]?, byte[]?> upload, Exception error)
    {
        var policy = Policy;
        UploadEvent parsed;
        try
        {
            parsed = UploadEventParser.Parse(upload.Message.Value ?? [], _limits);
        }
        catch (ModerationException)
        {
            return null; // the loop's own DLQ record
        }
        var verdict = Decider.Decide(policy, new UploadSignals { ContentId = parsed.ContentId, Surface = parsed.Surface, ModelFailure = error.Message });
        if (verdict.IsDeadLetter)
        {
            _services.Stats.DeadLetter(ErrorCodes.Internal);
            return [DeadLetter.Create(_kafka, upload, ErrorCodes.Internal, error.Message)];
        }
        var source = new SourceInfo(upload.Topic, upload.Partition.Value, upload.Offset.Value);
        return [Publish(upload, Activity.Current, _services.ToEvent(verdict, parsed.ContentId, policy, null, source, _services.Time.GetTimestamp()))];
    }

    /// <summary>Adds <see cref="DecisionId"/> to a DLQ record: the upload's content id (its key when it did not parse),
    /// source, and the policy and model versions it was screened under.</summary>
    private OutboundMessage WithDecisionId(OutboundMessage record, ConsumeResult<byte[]?, byte[]?> upload, string? contentId, string policyVersion)
    {
        contentId ??= upload.Message.Key is { } key ? Encoding.UTF8.GetString(key) : "";
        record.Headers.Add(DecisionId.Header, Encoding.ASCII.GetBytes(
            DecisionId.For(contentId, upload.Topic, upload.Partition.Value, upload.Offset.Value, policyVersion, ModelVersion)));
        return record;
    }

    private IReadOnlyList<OutboundMessage> Publish(ConsumeResult<byte[]?, byte[]?> upload, Activity? activity, string contentId, Policy policy, Screened screened)
    {
        if (screened.Failure is { } failure)
        {
            _services.Logger.LogError(failure, "Could not screen {ContentId}: failing closed ({Mode})", contentId, policy.Unscreenable);
            activity?.SetStatus(ActivityStatusCode.Error, "unscreenable");
        }
        if (screened.Decision is not { } decision)
        {
            _services.Stats.DeadLetter(ErrorCodes.Internal);
            return [WithDecisionId(DeadLetter.Create(_kafka, upload, ErrorCodes.Internal, screened.Failure?.Message ?? "not screened"), upload, contentId, policy.Version)];
        }
        var live = Publish(upload, activity, decision);
        var published = new List<OutboundMessage>(3) { live };
        if (screened.Shadow is { } shadow) published.Add(shadow);
        if (_bankTrials && screened.BankTrial is { } trial) published.Add(ShadowDecisions.BankTrial(_kafka, decision, trial));
        return published;
    }

    private OutboundMessage Publish(ConsumeResult<byte[]?, byte[]?> upload, Activity? activity, DecisionEvent decision)
    {
        using var span = Stages.Start("publish");
        span?.SetTag("messaging.destination.name", _kafka.TopicFor(decision.Action));
        activity?.SetTag("moderation.action", decision.Action);
        activity?.SetTag("moderation.policy_version", decision.PolicyVersion);
        activity?.SetTag("moderation.model_version", decision.ModelVersion);
        _services.Stats.Decision(decision.Action, decision.Cached, decision.LatencyMs,
            decision.Cached ? "cache" : decision.Reasons.Any(r => r.Source == "fail-closed") ? "fail-closed" : decision.Reasons.FirstOrDefault()?.Source ?? "model");
        var headers = new Headers();
        var traceparent = activity?.Id ?? UploadTraceParent(upload);
        if (traceparent is not null) headers.Add(TraceParentHeader, Encoding.ASCII.GetBytes(traceparent));
        headers.Add(DecisionId.Header, Encoding.ASCII.GetBytes(
            DecisionId.For(decision.ContentId, upload.Topic, upload.Partition.Value, upload.Offset.Value, decision.PolicyVersion, decision.ModelVersion ?? "")));
        return new OutboundMessage(_kafka.TopicFor(decision.Action), Encoding.UTF8.GetBytes(decision.ContentId), decision.ToUtf8Json(), headers);
    }

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

    /// <summary>Releases the video screener's decoder (its frame buffers and temporary files); the components it was built from are the caller's.</summary>
    public void Dispose() => _videos.Dispose();
}
