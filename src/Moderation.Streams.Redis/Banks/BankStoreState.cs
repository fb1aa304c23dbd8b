namespace Moderation.Streams.Redis.Banks;

/// <summary>What a reader compares to decide what to read again: the store's epoch (a random id set by the first
/// writer: a store restarted empty gets a new one, so counters that started again from 1 cannot be mistaken for
/// versions already seen) and every bank's version.</summary>
public sealed record BankStoreState(string? Epoch, IReadOnlyDictionary<string, long> Versions)
{
    /// <summary>The epoch under <paramref name="prefix"/> (shared by the hash, digest and text banks) read beside the
    /// versions <paramref name="versions"/> reads.</summary>
    public static async Task<BankStoreState> ReadAsync(StackExchange.Redis.IConnectionMultiplexer redis, string prefix,
        Func<Task<IReadOnlyDictionary<string, long>>> versions)
    {
        var epoch = redis.GetDatabase().StringGetAsync(StoreKeys.EpochKey(prefix));
        var read = await versions().ConfigureAwait(false);
        return new BankStoreState(await epoch.ConfigureAwait(false), read);
    }
}
