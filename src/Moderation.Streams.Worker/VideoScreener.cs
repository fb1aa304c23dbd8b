using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Media.Video;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker;

/// <summary>What screening a video gave: a decision, or the error that kept it from being screened (the pipeline
/// fails closed on it as on an image's).</summary>
public sealed record VideoScreening(DecisionEvent? Decision, Exception? Unscreenable = null);

/// <summary>
/// Screens one video upload into one decision: exact-video cache (SHA-256 of the bytes) → sampled frames
/// (<see cref="VideoDecoder"/>) hashed with PDQ as they arrive → bank match over all frames (<see cref="VideoMatcher"/>;
/// a match is taken down without inference) → every frame through the shared <see cref="DynamicBatcher"/> (one video
/// fills batches) → per-class aggregation (<see cref="VideoScores"/>) → the policy. Reasons list the frames that
/// drove them. Errors in the media itself are <see cref="ModerationException"/>s for the DLQ.
/// </summary>
public sealed class VideoScreener : IDisposable
{
    private readonly VideoDecoder _decoder;
    private readonly Policy _policy;
    private readonly DynamicBatcher _batcher;
    private readonly IDecisionCache? _cache;
    private readonly Func<BankIndex?>? _banks;
    private readonly bool _banksFailClosed;
    private readonly ScreeningStats _stats;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <param name="banks">The bank index to match against now, or null when the banks cannot be trusted
    /// (unavailable); null itself when no banks are configured.</param>
    public VideoScreener(VideoLimits limits, Policy policy, DynamicBatcher batcher, IDecisionCache? cache, Func<BankIndex?>? banks,
        bool banksFailClosed, ScreeningStats stats, ILogger logger, TimeProvider? time = null)
    {
        _decoder = new VideoDecoder(limits);
        _policy = policy;
        _batcher = batcher;
        _cache = cache;
        _banks = banks;
        _banksFailClosed = banksFailClosed;
        _stats = stats;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The pipeline's bank matcher as this screener's bank source.</summary>
    public static Func<BankIndex?>? BanksOf(BankMatcher? matcher) => matcher is null ? null : () => matcher.IsAvailable ? matcher.Index : null;

    public VideoLimits Limits => _decoder.Limits;

    private string ModelName => _batcher.Classifier.Model.Name;
    private string ModelVersion => _batcher.Classifier.Model.VersionedName;

    /// <param name="started">The pipeline's start timestamp (<see cref="TimeProvider.GetTimestamp"/>) for the latency.</param>
    /// <exception cref="ModerationException">unsupported-media, media-too-large, undecodable-media.</exception>
    /// <param name="policy">The policy in force for this upload (hot reload); null = the one given at construction.</param>
    public async Task<VideoScreening> ScreenAsync(string contentId, byte[] video, SourceInfo source, long started, CancellationToken ct, Policy? policy = null, string? surface = null)
    {
        policy ??= _policy;
        if (!Limits.Enabled) throw new ModerationException(ErrorCodes.UnsupportedMedia, "video screening is disabled on this worker");
        VideoSniffer.Require(video); // refused before any lookup or process

        var index = _banks?.Invoke();
        bool banksUnavailable = _banks is not null && index is null;
        bool cacheable = _cache is not null && !banksUnavailable;
        var key = new DecisionCacheKey(ContentHash(video), policy.CacheVersion(surface), ModelVersion);
        if (cacheable && await TryCachedAsync(key, ct).ConfigureAwait(false) is { } hit)
        {
            // A bank may have grown since: the frames' hashes are kept with the decision and matched again.
            return new VideoScreening(FromCache(policy, contentId, hit, index, source, started));
        }

        long decodeStarted = _time.GetTimestamp();
        var (sampled, frames) = await VideoHashing.HashAsync(_decoder, video, index?.Options.Dihedral == true, ct).ConfigureAwait(false);
        WorkerTelemetry.VideoDecodeDuration.Record(_time.GetElapsedTime(decodeStarted).TotalSeconds);
        WorkerTelemetry.VideoFrames.Record(sampled.Frames.Count);
        return await DecideAsync(policy, contentId, sampled.Frames, frames, frames, sampled.NotCovered, index, banksUnavailable, cacheable ? key : null, source, started, surface, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Screens an animated GIF, WebP or PNG (<see cref="AnimatedImageDecoder.IsAnimated"/>) like a video: every decoded
    /// frame (the APNG default image too) is PDQ-hashed and matched against the banks, an even spread of them goes
    /// through the batcher, and frames past the decode limits make it partially screened. Cached by the bytes' SHA-256
    /// like a video.
    /// </summary>
    /// <exception cref="ModerationException">As the still-image decoder, for the file itself.</exception>
    public async Task<VideoScreening> ScreenAnimationAsync(string contentId, byte[] encoded, DecodeLimits limits, SourceInfo source, long started,
        CancellationToken ct, Policy? policy = null, string? surface = null)
    {
        policy ??= _policy;
        var index = _banks?.Invoke();
        bool banksUnavailable = _banks is not null && index is null;
        bool cacheable = _cache is not null && !banksUnavailable;
        var key = new DecisionCacheKey(ContentHash(encoded), policy.CacheVersion(surface), ModelVersion);
        if (cacheable && await TryCachedAsync(key, ct).ConfigureAwait(false) is { } hit)
        {
            return new VideoScreening(FromCache(policy, contentId, hit, index, source, started));
        }

        bool dihedral = index?.Options.Dihedral == true;
        var hasher = new PdqHasher(); // the decoder calls back one frame at a time
        var all = new List<FrameHash>();
        var animation = await AnimatedImageDecoder.DecodeAsync(encoded, limits, (i, ms, image) =>
        {
            var pdq = hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            lock (all) all.Add(new FrameHash(ms, pdq.Hash, pdq.Quality, dihedral ? hasher.DihedralOfLast() : null) { Index = i });
        }, ct).ConfigureAwait(false);
        FrameHash[] everyFrame;
        lock (all) everyFrame = [.. all];
        var byIndex = everyFrame.ToDictionary(f => f.Index);
        var sampledHashes = animation.Sampled.Select(f => byIndex[f.Index]).ToArray();
        WorkerTelemetry.VideoFrames.Record(animation.Sampled.Count);
        return await DecideAsync(policy, contentId, animation.Sampled, sampledHashes, everyFrame, animation.NotCovered, index, banksUnavailable,
            cacheable ? key : null, source, started, surface, ct).ConfigureAwait(false);
    }

    /// <summary>A cached decision, matched again against the banks (they may have grown since: the frames' hashes are kept
    /// with it). A later match to a takedown bank takes it down; one to a review bank makes it at least a review.</summary>
    private DecisionEvent FromCache(Policy policy, string contentId, (DecisionEvent Decision, FrameHash[] Frames) hit, BankIndex? index, SourceInfo source, long started)
    {
        var cached = hit.Decision with { ContentId = contentId, Cached = true, DecidedAt = _time.GetUtcNow(), LatencyMs = Elapsed(started), Source = source };
        if (cached.Action == Actions.Takedown || index is null || VideoMatcher.FindBest(hit.Frames, index, Limits.Match) is not { } later) return cached;
        if (policy.BankAction(later.Bank) == Actions.Takedown)
            return BankTakedown(policy, contentId, later, hit.Frames, source, started, cached.Reasons.FirstOrDefault(r => r.Code == PartialScreening.Code)?.Message);
        return cached with { Action = Actions.AtLeastReview(cached.Action), Reasons = [BankReason(later, hit.Frames.Length), .. cached.Reasons] };
    }

    /// <summary>The decision on a set of hashed frames (a video's samples, an animation's frames): bank match, else
    /// every frame through the batcher and the policy; media screened only in part is never allowed
    /// (<see cref="PartialScreening"/>).</summary>
    /// <param name="cacheKey">Where to store the decision, or null when it must not be cached.</param>
    /// <param name="frames">The hashes of <paramref name="sampled"/>, one each, in the same order.</param>
    /// <param name="matchFrames">Every hashed frame, matched against the banks (an animation's are more than those classified).</param>
    internal async Task<VideoScreening> DecideAsync(Policy policy, string contentId, IReadOnlyList<VideoFrame> sampled, FrameHash[] frames, FrameHash[] matchFrames,
        string? notCovered, BankIndex? index, bool banksUnavailable, DecisionCacheKey? cacheKey, SourceInfo source, long started, string? surface, CancellationToken ct)
    {
        // A bank whose policy rule is review sends the match to review and still lets the model take it down (as for
        // images); such decisions are not cached.
        DecisionReason? bankReview = null;
        if (index is not null && VideoMatcher.FindBest(matchFrames, index, Limits.Match) is { } match)
        {
            if (policy.BankAction(match.Bank) == Actions.Takedown)
                return new VideoScreening(BankTakedown(policy, contentId, match, matchFrames, source, started, notCovered));
            bankReview = BankReason(match, matchFrames.Length);
            cacheKey = null;
        }

        ClassScores[] scores;
        try
        {
            // Every frame is submitted at once: the batcher groups them (with other uploads' images) into batches.
            scores = await Task.WhenAll(sampled.Select(f => _batcher.ClassifyAsync(f.Image, ct))).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new VideoScreening(null, e);
        }

        var aggregate = VideoScores.Aggregate(policy, ModelName, frames.Select(f => f.TimestampMs).ToArray(), scores, Limits.Match.MinFramesOverThreshold, surface);
        var (action, reasons) = PartialScreening.Apply(aggregate.Action, aggregate.Reasons, notCovered);
        if (bankReview is not null)
            (action, reasons) = (Actions.AtLeastReview(action), [bankReview, .. reasons]);
        if (banksUnavailable && _banksFailClosed && action == Actions.Allow)
            (action, reasons) = (Actions.Review, [.. reasons, new DecisionReason { Source = "fail-closed", Code = "banks-unavailable", Message = "hash banks unavailable: not allowed on the model alone" }]);
        var top = frames[aggregate.TopFrame];
        var decision = new DecisionEvent
        {
            ContentId = contentId,
            Action = action,
            Reasons = reasons,
            Scores = aggregate.MaxScores,
            Pdq = new PdqInfo(top.Hash.ToString(), top.Quality),
            PolicyVersion = policy.Version,
            ModelVersion = ModelVersion,
            DecidedAt = _time.GetUtcNow(),
            LatencyMs = Elapsed(started),
            Source = source,
        };
        if (cacheKey is { } key) await StoreAsync(key, decision, matchFrames, ct).ConfigureAwait(false);
        return new VideoScreening(decision);
    }

    private static DecisionReason BankReason(VideoBankMatch match, int framesHashed)
    {
        string what = match.IsVideo
            ? $"{match.FrameTimestampsMs.Count} of {match.FramesHashed} frames match {match.BankFramesMatched} of {match.BankFrames} frames of a banked video"
            : $"{match.FrameTimestampsMs.Count} of {match.FramesHashed} frames match a banked image";
        return new DecisionReason
        {
            Source = "bank", Bank = match.Bank, Distance = match.Distance, MatchId = match.MatchId, Message = what,
            FrameTimestampsMs = match.FrameTimestampsMs, FramesSampled = framesHashed,
        };
    }

    private DecisionEvent BankTakedown(Policy policy, string contentId, VideoBankMatch match, IReadOnlyList<FrameHash> frames, SourceInfo source, long started, string? notCovered)
    {
        var first = frames.First(f => f.TimestampMs == match.FrameTimestampsMs[0]);
        var (_, reasons) = PartialScreening.Apply(Actions.Takedown, [BankReason(match, frames.Count)], notCovered);
        return new DecisionEvent
        {
            ContentId = contentId,
            Action = Actions.Takedown,
            Reasons = reasons,
            Pdq = new PdqInfo(first.Hash.ToString(), first.Quality),
            PolicyVersion = policy.Version,
            DecidedAt = _time.GetUtcNow(),
            LatencyMs = Elapsed(started),
            Source = source,
        };
    }

    /// <summary>The exact-video cache key: SHA-256 of the bytes, 64 hex digits like a PDQ hash (the cache's key
    /// format), so a byte-identical re-upload skips ffmpeg and the model.</summary>
    public static string ContentHash(ReadOnlySpan<byte> video) => Convert.ToHexStringLower(SHA256.HashData(video));

    private sealed record CacheEntry(DecisionEvent Decision, IReadOnlyList<CachedFrame> Frames);

    /// <summary>A frame's hash kept with a cached decision; <paramref name="D"/> holds its 8 dihedral hashes
    /// (original first, <see cref="PdqTransform"/> order) when the bank matches rotations and mirror images.</summary>
    private sealed record CachedFrame(long T, string Hash, int Quality, string[]? D = null)
    {
        public static CachedFrame Of(FrameHash frame) => new(frame.TimestampMs, frame.Hash.ToString(), frame.Quality,
            frame.Dihedral is { } d ? [.. Enum.GetValues<PdqTransform>().Select(t => d[t].ToString())] : null);

        public FrameHash ToFrameHash()
        {
            PdqDihedral? dihedral = null;
            if (D is { Length: PdqDihedral.Count })
            {
                var h = D.Select(PdqHash.Parse).ToArray();
                dihedral = new PdqDihedral(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], Quality);
            }
            return new FrameHash(T, PdqHash.Parse(Hash), Quality, dihedral);
        }
    }

    private async Task<(DecisionEvent Decision, FrameHash[] Frames)?> TryCachedAsync(DecisionCacheKey key, CancellationToken ct)
    {
        try
        {
            var cached = await _cache!.TryGetAsync(key, ct).ConfigureAwait(false);
            if (cached is null) return null;
            var entry = JsonSerializer.Deserialize<CacheEntry>(cached.DecisionJson, ContractJson.Options);
            if (entry?.Decision is null || entry.Frames is null) return null;
            return (entry.Decision, entry.Frames.Select(f => f.ToFrameHash()).ToArray());
        }
        catch (StoreUnavailableException e)
        {
            _stats.CacheUnavailable();
            _logger.LogWarning("Decision cache unavailable, screening the video: {Message}", e.Message);
            return null;
        }
        catch (Exception e) when (e is JsonException or FormatException or NotSupportedException)
        {
            _logger.LogWarning("Unreadable cached video decision ignored: {Message}", e.Message);
            return null;
        }
    }

    private async Task StoreAsync(DecisionCacheKey key, DecisionEvent decision, IReadOnlyList<FrameHash> frames, CancellationToken ct)
    {
        try
        {
            var entry = new CacheEntry(decision, frames.Select(CachedFrame.Of).ToArray());
            var json = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(entry, ContractJson.Options));
            await _cache!.SetAsync(key, new CachedDecision(decision.Action, json, decision.DecidedAt), ct).ConfigureAwait(false);
        }
        catch (StoreUnavailableException e)
        {
            _stats.CacheUnavailable();
            _logger.LogWarning("Decision cache unavailable, video decision not cached: {Message}", e.Message);
        }
    }

    private long Elapsed(long started) => (long)_time.GetElapsedTime(started).TotalMilliseconds;

    public void Dispose()
    {
        _decoder.Dispose();
    }
}
