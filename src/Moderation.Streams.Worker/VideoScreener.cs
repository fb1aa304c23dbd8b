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

/// <summary>
/// Screens one video upload into one decision: exact-video cache (SHA-256 of the bytes) → sampled frames
/// (<see cref="VideoDecoder"/>) hashed with PDQ as they arrive → bank match over all frames (<see cref="VideoMatcher"/>;
/// a takedown bank's match needs no inference) → every frame through the shared <see cref="DynamicBatcher"/> (one video
/// fills batches) → <see cref="Decider.Decide"/> (per-class aggregation over the frames, then the policy). Reasons list
/// the frames that drove them. Errors in the media itself are <see cref="ModerationException"/>s for the DLQ.
/// </summary>
public sealed class VideoScreener : IDisposable
{
    private readonly VideoDecoder _decoder;
    private readonly ScreenerServices _services;
    private readonly Func<BankIndex?>? _banks;

    /// <param name="banks">The bank index to match against now, or null when the banks cannot be trusted
    /// (unavailable); null itself when no banks are configured.</param>
    public VideoScreener(VideoLimits limits, ScreenerServices services, Func<BankIndex?>? banks)
    {
        _decoder = new VideoDecoder(limits);
        _services = services;
        _banks = banks;
    }

    /// <summary>The pipeline's bank matcher as this screener's bank source.</summary>
    public static Func<BankIndex?>? BanksOf(BankMatcher? matcher) => matcher is null ? null : () => matcher.IsAvailable ? matcher.Index : null;

    public VideoLimits Limits => _decoder.Limits;

    /// <param name="started">The pipeline's start timestamp (<see cref="TimeProvider.GetTimestamp"/>) for the latency.</param>
    /// <param name="policy">The policy in force for this upload (hot reload).</param>
    /// <exception cref="ModerationException">unsupported-media, media-too-large, undecodable-media.</exception>
    /// <param name="caption">The upload's caption, screened by the text banks beside the frames.</param>
    /// <param name="exact">What the exact file-hash banks said about the bytes, merged with the frames' matches; null when not asked.</param>
    public async Task<Screened> ScreenAsync(string contentId, byte[] video, string? caption, Policy policy, string? surface, SourceInfo source, long started, CancellationToken ct,
        BankSignal? exact = null)
    {
        if (!Limits.Enabled) throw new ModerationException(ErrorCodes.UnsupportedMedia, "video screening is disabled on this worker");
        VideoSniffer.Require(video); // refused before any lookup or process
        var upload = await BeginAsync(contentId, policy, surface, source, started, video, caption, exact, ct).ConfigureAwait(false);
        if (await TryCachedAsync(upload, ct).ConfigureAwait(false) is { } cached) return cached;

        long decodeStarted = _services.Time.GetTimestamp();
        var (sampled, frames) = await VideoHashing.HashAsync(_decoder, video, upload.Index?.Options.Dihedral == true, ct).ConfigureAwait(false);
        WorkerTelemetry.VideoDecodeDuration.Record(_services.Time.GetElapsedTime(decodeStarted).TotalSeconds);
        WorkerTelemetry.VideoFrames.Record(sampled.Frames.Count);
        return await DecideAsync(upload, sampled.Frames, frames, frames, sampled.NotCovered, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Screens an animated GIF, WebP or PNG (<see cref="AnimatedImageDecoder.IsAnimated"/>) like a video: every decoded
    /// frame (the APNG default image too) is PDQ-hashed and matched against the banks, an even spread of them goes
    /// through the batcher, and frames past the decode limits make it partially screened. Cached by the bytes' SHA-256
    /// like a video.
    /// </summary>
    /// <exception cref="ModerationException">As the still-image decoder, for the file itself.</exception>
    public async Task<Screened> ScreenAnimationAsync(string contentId, byte[] encoded, string? caption, DecodeLimits limits, Policy policy, string? surface,
        SourceInfo source, long started, CancellationToken ct, BankSignal? exact = null)
    {
        var upload = await BeginAsync(contentId, policy, surface, source, started, encoded, caption, exact, ct).ConfigureAwait(false);
        if (await TryCachedAsync(upload, ct).ConfigureAwait(false) is { } cached) return cached;

        bool dihedral = upload.Index?.Options.Dihedral == true;
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
        return await DecideAsync(upload, animation.Sampled, sampledHashes, everyFrame, animation.NotCovered, ct).ConfigureAwait(false);
    }

    /// <summary>One upload as the screener sees it: the policy in force, and the bank index read once (null when the
    /// banks are configured but cannot be trusted).</summary>
    /// <param name="Text">What the text banks said about the caption, asked once.</param>
    /// <param name="Exact">What the exact file-hash banks said about the bytes.</param>
    private sealed record Upload(string ContentId, Policy Policy, string? Surface, SourceInfo Source, long Started, BankIndex? Index, string ContentHash, UploadSignals Text,
        BankSignal Exact);

    private async Task<Upload> BeginAsync(string contentId, Policy policy, string? surface, SourceInfo source, long started, byte[] bytes, string? caption,
        BankSignal? exact, CancellationToken ct) =>
        new(contentId, policy, surface, source, started, _banks?.Invoke(), ContentHash(bytes),
            await _services.WithTextAsync(new UploadSignals(), caption, TextHit.CaptionField, ct).ConfigureAwait(false), exact ?? BankSignal.NotConfigured);

    private UploadSignals SignalsOf(Upload upload) => upload.Text with
    {
        ContentId = upload.ContentId,
        Surface = upload.Surface,
        Banks = _banks is null ? BankSignal.NotConfigured : upload.Index is null ? BankSignal.Unavailable : BankSignal.NoMatch,
        BanksFailClosed = _services.BanksFailClosed,
    };

    /// <summary>The strongest match of each bank (the policy's bank rules pick which decides), or what the banks'
    /// state says when none matched.</summary>
    private BankSignal Match(Upload upload, IReadOnlyList<FrameHash> frames) => BankHits.Merge(
        upload.Index is { } index && VideoMatcher.FindPerBank(frames, index, Limits.Match) is { Count: > 0 } matches
            ? BankSignal.FromHits(matches.Select(m => new BankHit(m.Bank, m.MatchId, m.Distance, Describe(m), m.FrameTimestampsMs, frames.Count)
                { EntryLabel = m.Entry?.Label, EntrySource = m.Entry?.Source, AddedAt = m.Entry?.AddedAt }))
            : SignalsOf(upload).Banks,
        upload.Exact);

    /// <summary>A cached decision on the same bytes, matched again against the banks (they may have grown since: the frames'
    /// hashes are kept with it); null on a miss or when the decider will not reuse it.</summary>
    private async Task<Screened?> TryCachedAsync(Upload upload, CancellationToken ct)
    {
        if (_services.Cache is not { } cache) return null;
        var entry = await cache.TryGetAsync(CacheKey(upload), json => JsonSerializer.Deserialize<CacheEntry>(json, ContractJson.Options), ct).ConfigureAwait(false);
        if (entry?.Decision is not { } hit || entry.Frames is null) return null;
        var frames = entry.Frames.Select(f => f.ToFrameHash()).ToArray();
        var signals = SignalsOf(upload) with { Cached = hit };
        if (!Decider.MayReuse(hit, signals)) return null;
        var banks = await _services.WithFloodsAsync(upload.Policy, Match(upload, frames), upload.ContentId, ct).ConfigureAwait(false);
        var verdict = Decider.Decide(upload.Policy, signals with { Banks = banks });
        return _services.ToScreened(verdict, upload.ContentId, upload.Policy, PdqOf(verdict, frames, hit.Pdq), upload.Source, upload.Started, hit);
    }

    /// <summary>The decision on a set of hashed frames (a video's samples, an animation's frames): bank match, else
    /// every frame through the batcher, then <see cref="Decider.Decide"/>.</summary>
    /// <param name="frames">The hashes of <paramref name="sampled"/>, one each, in the same order.</param>
    /// <param name="matchFrames">Every hashed frame, matched against the banks (an animation's are more than those classified).</param>
    private async Task<Screened> DecideAsync(Upload upload, IReadOnlyList<VideoFrame> sampled, FrameHash[] frames, FrameHash[] matchFrames,
        string? notCovered, CancellationToken ct)
    {
        var policy = upload.Policy;
        var banks = await _services.WithFloodsAsync(policy, Match(upload, matchFrames), upload.ContentId, ct).ConfigureAwait(false);
        var signals = SignalsOf(upload) with { Banks = banks, NotCovered = notCovered };
        if (Decider.Settled(policy, signals) is { } settled)
            return _services.ToScreened(settled, upload.ContentId, policy, PdqOf(settled, matchFrames, null), upload.Source, upload.Started);

        Exception? failure = null;
        try
        {
            // Every frame is submitted at once: the batcher groups them (with other uploads' images) into batches.
            var scores = await Task.WhenAll(sampled.Select(f => _services.Batcher.ClassifyAsync(f.Image, ct))).ConfigureAwait(false);
            signals = signals with
            {
                Model = ModelSignal.OfFrames(_services.ModelName, scores[0].Labels, [.. frames.Select(f => f.TimestampMs)],
                    [.. scores.Select(s => s.Values)], Limits.Match.MinFramesOverThreshold),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failure = e;
            signals = signals with { ModelFailure = e.Message };
        }

        var verdict = Decider.Decide(policy, signals);
        if (verdict.IsDeadLetter) return new Screened(null, failure);
        var screened = _services.ToScreened(verdict, upload.ContentId, policy, failure is null ? PdqOf(verdict, frames, null) : null, upload.Source, upload.Started, failure: failure);
        var decision = screened.Decision!;
        if (Decider.MayStore(signals, verdict) && _services.Cache is { } cache)
        {
            var json = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new CacheEntry(decision, [.. matchFrames.Select(CachedFrame.Of)]), ContractJson.Options));
            await cache.StoreAsync(CacheKey(upload), decision, json, ct).ConfigureAwait(false);
        }
        return screened;
    }

    private DecisionCacheKey CacheKey(Upload upload) => new(upload.ContentHash, upload.Policy.CacheVersion(upload.Surface), _services.ModelVersion);

    /// <summary>The hash that stands for the upload: a bank takedown's first matching frame, else the frame that drove the
    /// model's decision, else (a reused cached decision) the cached one's.</summary>
    private static PdqInfo? PdqOf(Verdict verdict, IReadOnlyList<FrameHash> frames, PdqInfo? cached)
    {
        FrameHash? frame = verdict.BankTakedown is { FrameTimestampsMs: [var first, ..] } ? frames.First(f => f.TimestampMs == first)
            : verdict.TopFrame is { } top && !verdict.FromCache ? frames[top] : null;
        return frame is null ? cached : new PdqInfo(frame.Hash.ToString(), frame.Quality);
    }

    private static string Describe(VideoBankMatch match) => match.IsVideo
        ? $"{match.FrameTimestampsMs.Count} of {match.FramesHashed} frames match {match.BankFramesMatched} of {match.BankFrames} frames of a banked video"
        : $"{match.FrameTimestampsMs.Count} of {match.FramesHashed} frames match a banked image";

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

    public void Dispose()
    {
        _decoder.Dispose();
    }
}
