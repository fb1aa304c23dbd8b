using StackExchange.Redis;

namespace Moderation.Streams.Redis;

/// <summary>Opens the one <see cref="IConnectionMultiplexer"/> a process shares, with settings for a cache.</summary>
public static class RedisConnector
{
    /// <summary>
    /// Defaults applied before the caller's configuration string (which may override any of them):
    /// never abort when the store is down at start (the multiplexer keeps reconnecting in the background),
    /// a short connect timeout, exponential reconnect backoff capped at 2 s, and fail-fast while
    /// disconnected so commands do not queue behind an outage.
    /// </summary>
    public const string Defaults = "abortConnect=false,connectTimeout=2000,connectRetry=1,syncTimeout=1000,asyncTimeout=1000,keepAlive=10";

    /// <summary>The configuration <see cref="ConnectAsync"/> uses for <paramref name="configuration"/>.</summary>
    /// <param name="configuration">A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c>.</param>
    public static ConfigurationOptions CreateOptions(string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);

        // Later settings win in a configuration string, so the caller's override the defaults.
        var options = ConfigurationOptions.Parse(Defaults + "," + configuration);
        options.ReconnectRetryPolicy = new ExponentialRetry(deltaBackOffMilliseconds: 100, maxDeltaBackOffMilliseconds: 2000);
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return options;
    }

    /// <summary>Connects; returns even when the store is unreachable (it connects once the store is up).</summary>
    public static async Task<IConnectionMultiplexer> ConnectAsync(string configuration, TextWriter? log = null)
        => await ConnectionMultiplexer.ConnectAsync(CreateOptions(configuration), log).ConfigureAwait(false);
}
