using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;

namespace Moderation.Streams.Worker;

/// <summary>
/// Screens one still image: decode (upright, within the decode limits) → PDQ → banks → decision cache → classifier
/// (through the shared batcher) → <see cref="Decider.Decide"/>. A bank takedown needs no model; a cached decision is reused
/// when the decider allows it; a fresh model decision is cached when it allows that. An exact duplicate of a picture seen
/// before (<paramref name="duplicates"/>) skips decode and PDQ, and is decoded only if the model must still see it.
/// </summary>
public sealed class ImageScreener(ScreenerServices services, DecodeLimits limits, int minCacheQuality, ShadowDecisions? shadow = null,
    ExactDuplicates? duplicates = null)
{
    private readonly ThreadLocal<PdqHasher> _hasher = new(() => new PdqHasher());

    /// <exception cref="ModerationException">The image itself is bad (unsupported, too large, undecodable): for the DLQ.</exception>
    /// <param name="caption">The upload's caption, screened by the text banks beside the picture.</param>
    /// <param name="exact">What the exact file-hash banks said about the bytes (<see cref="ScreenerServices.ExactMatch"/>),
    /// merged with the PDQ banks' matches; null when not asked.</param>
    public async Task<Screened> ScreenAsync(string contentId, byte[] bytes, string? caption, Policy policy, string? surface, SourceInfo source, long started, CancellationToken ct,
        BankSignal? exact = null)
    {
        bool dihedralWanted = services.Banks is { } b && b.Options.Match.Dihedral;
        DecodedImage? image = null;
        PdqResult pdq;
        PdqDihedral? dihedral = null;
        var digest = duplicates is null ? default : duplicates.Of(bytes);
        if (duplicates is not null && duplicates.TryGet(digest, out var known) && (known.Dihedral is not null || !dihedralWanted))
        {
            (pdq, dihedral) = (known.Pdq, known.Dihedral);
        }
        else
        {
            image = await DecodeAsync(bytes, ct).ConfigureAwait(false);
            using (Stages.Start("hash"))
            {
                pdq = _hasher.Value!.Hash(image.Pixels, image.Width, image.Height, image.Channels);
                if (dihedralWanted) dihedral = _hasher.Value!.DihedralOfLast();
            }
            duplicates?.Add(digest, new ExactDuplicates.Entry(pdq, dihedral));
        }
        var pdqInfo = new PdqInfo(pdq.Hash.ToString(), pdq.Quality);
        var banks = await services.WithFloodsAsync(policy, BankHits.Merge(LookUp(pdq, dihedral), exact ?? BankSignal.NotConfigured), contentId, ct).ConfigureAwait(false);
        var signals = await services.WithTextAsync(new UploadSignals { ContentId = contentId, Surface = surface, Banks = banks, BanksFailClosed = services.BanksFailClosed },
            caption, TextHit.CaptionField, ct).ConfigureAwait(false);

        // Known content comes down without the cache or the model.
        if (Decider.Settled(policy, signals) is { } settled)
            return services.ToScreened(settled, contentId, policy, pdqInfo, source, started);

        var key = new DecisionCacheKey(pdqInfo.Hash, policy.CacheVersion(surface), services.ModelVersion);
        bool cacheable = services.Cache is not null && pdq.Quality >= minCacheQuality; // flat images hash alike
        if (cacheable && await services.Cache!.TryGetAsync(key, json => DecisionEvent.FromUtf8Json(Encoding.UTF8.GetBytes(json)), ct).ConfigureAwait(false) is { } hit
            && Decider.MayReuse(hit, signals))
            return services.ToScreened(Decider.Decide(policy, signals with { Cached = hit }), contentId, policy, pdqInfo, source, started, hit);

        ClassScores? scores = null;
        Exception? failure = null;
        try
        {
            image ??= await DecodeAsync(bytes, ct).ConfigureAwait(false);
            using (Stages.Start("inference")) scores = await services.Batcher.ClassifyAsync(image, ct).ConfigureAwait(false);
            signals = signals with { Model = ModelSignal.Still(services.ModelName, scores.Labels, scores.Values) };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failure = e;
            signals = signals with { ModelFailure = e.Message };
        }

        Verdict verdict;
        using (Stages.Start("policy")) verdict = Decider.Decide(policy, signals);
        if (verdict.IsDeadLetter) return new Screened(null, failure);
        var screened = services.ToScreened(verdict, contentId, policy, pdqInfo, source, started, failure: failure);
        var decision = screened.Decision!;
        if (cacheable && Decider.MayStore(signals, verdict))
            await services.Cache!.StoreAsync(key, decision, Encoding.UTF8.GetString(decision.ToUtf8Json()), ct).ConfigureAwait(false);
        // The shadow's would-be decision comes after the live one is made and never changes it.
        var shadowRecord = scores is not null ? shadow?.Decide(policy, signals, scores, decision) : null;
        return screened with { Shadow = shadowRecord };
    }

    private async Task<DecodedImage> DecodeAsync(byte[] bytes, CancellationToken ct)
    {
        using var decode = Stages.Start("decode");
        var image = await ImageDecoder.DecodeAsync(bytes, limits, ct).ConfigureAwait(false);
        decode?.SetTag("moderation.decode.scale", image.ScaleDenominator); // 1 = full, 2/4/8 = JPEG DCT-scaled
        decode?.SetTag("moderation.decode.orientation", image.StoredOrientation); // EXIF 1-8, applied: pixels are upright
        return image;
    }

    private BankSignal LookUp(PdqResult pdq, PdqDihedral? dihedral)
    {
        if (services.Banks is not { } banks) return BankSignal.NotConfigured;
        using var span = Stages.Start("bank lookup");
        var (status, perBank) = banks.MatchPerBank(pdq.Hash, pdq.Quality, dihedral);
        span?.SetTag("moderation.bank.matched", perBank.Count > 0);
        return status == Redis.Banks.BankLookupStatus.Unavailable
            ? BankSignal.Unavailable
            : BankSignal.FromHits(perBank.Select(m => BankHits.Of(m.Entry, m.Distance)), pdq.Quality);
    }
}
