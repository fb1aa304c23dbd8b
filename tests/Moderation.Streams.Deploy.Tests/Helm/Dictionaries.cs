namespace Moderation.Streams.Deploy.Tests.Helm;

internal static class Dictionaries
{
    /// <summary>The value under <paramref name="key"/>, or default when the map or the key is missing.</summary>
    public static TValue? Get<TValue>(this IDictionary<string, TValue>? map, string key) =>
        map is not null && map.TryGetValue(key, out var v) ? v : default;
}
