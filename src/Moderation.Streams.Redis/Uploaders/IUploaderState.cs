using Moderation.Streams.Contracts;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>The shared uploader and campaign counters (<see cref="RedisUploaderState"/>).</summary>
public interface IUploaderState
{
    /// <summary>Counts one upload (unless <see cref="UploaderCount.Record"/> is false) and returns what the policy's rules
    /// need: the uploader's strikes and uploads in their windows, and the distinct uploaders of this picture.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct);

    /// <summary>Counts several uploads in order, each as if counted alone after the ones before it, and answers each. The
    /// call fails as a whole.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    async Task<IReadOnlyList<UploaderSignal>> CountManyAsync(IReadOnlyList<UploaderCount> requests, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var signals = new UploaderSignal[requests.Count];
        for (int i = 0; i < signals.Length; i++) signals[i] = await CountAsync(requests[i], ct).ConfigureAwait(false);
        return signals;
    }

    /// <summary>True when <see cref="CountManyAsync"/> sends several uploads in one call (cheaper than one call each), so
    /// holding uploads to count them together pays (<see cref="UploaderCountBatcher"/>).</summary>
    bool CountsInBatches => false;

    /// <summary>Records a takedown of one of the uploader's items as a strike, once per content id.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct);
}

/// <summary>One upload to count.</summary>
/// <param name="ContentId">Makes the count idempotent: the same content is counted once.</param>
/// <param name="UploaderId">Null: nothing is counted (no rule applies to an upload nobody can be held to).</param>
/// <param name="PdqHex">The picture's PDQ hash (the campaign rule); null for a text item or a hash of low quality.</param>
/// <param name="Rules">The policy's rules: which counters to read and their windows.</param>
/// <param name="Record">False: read the counters without adding this upload (nothing is written).</param>
public sealed record UploaderCount(string ContentId, string? UploaderId, string? PdqHex, PolicyUploaders Rules, bool Record = true);
