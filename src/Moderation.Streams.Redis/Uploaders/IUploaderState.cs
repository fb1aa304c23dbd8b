using Moderation.Streams.Contracts;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>The shared uploader and campaign counters (<see cref="RedisUploaderState"/>).</summary>
public interface IUploaderState
{
    /// <summary>Counts one upload (unless <see cref="UploaderCount.Record"/> is false) and returns what the policy's rules
    /// need: the uploader's strikes and uploads in their windows, and the distinct uploaders of this picture.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct);

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
