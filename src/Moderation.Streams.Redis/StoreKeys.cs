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
}
