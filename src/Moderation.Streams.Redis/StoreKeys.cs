namespace Moderation.Streams.Redis;

/// <summary>The rule every store's key prefix follows.</summary>
internal static class StoreKeys
{
    /// <summary>A key prefix must not hold <c>{</c> or <c>}</c>: it would change the Redis Cluster hash slot of the keys.</summary>
    /// <exception cref="ArgumentException">It does.</exception>
    public static string CheckPrefix(string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(keyPrefix);
        return keyPrefix.AsSpan().IndexOfAny('{', '}') >= 0
            ? throw new ArgumentException("keyPrefix must not contain '{' or '}': it would change the hash slot.", nameof(keyPrefix))
            : keyPrefix;
    }

    /// <summary>The key of the store's epoch (a random id set by the first write of any bank store, hash, digest or text:
    /// a Redis wiped and written again gets a new one, so a reader never mistakes counters that started again from 1 for
    /// versions it has read).</summary>
    public static string EpochKey(string keyPrefix) => keyPrefix + "banks:epoch";

    /// <summary>Sets the epoch when there is none (before a write, outside its transaction: the key is in no bank's slot).</summary>
    public static Task EnsureEpochAsync(StackExchange.Redis.IDatabase db, string keyPrefix) =>
        db.StringSetAsync(EpochKey(keyPrefix), Guid.NewGuid().ToString("N"), when: StackExchange.Redis.When.NotExists);
}
