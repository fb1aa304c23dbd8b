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

    /// <summary><see cref="CreateOptions(string)"/> with <paramref name="security"/> applied over it (TLS, ACL user,
    /// password from a file): secrets stay out of the configuration string and so out of anything that prints it.</summary>
    /// <exception cref="InvalidOperationException">A file is missing or the settings are inconsistent (no secret in the message).</exception>
    public static ConfigurationOptions CreateOptions(string configuration, RedisSecurityOptions? security)
    {
        var options = CreateOptions(configuration);
        if (security is null) return options;
        if (!string.IsNullOrWhiteSpace(security.User)) options.User = security.User;
        if (!string.IsNullOrWhiteSpace(security.PasswordFile)) options.Password = ReadSecret(security.PasswordFile, "Redis:Security:PasswordFile");
        bool tlsFiles = (security.CaFile ?? security.CertificateFile ?? security.KeyFile) is not null;
        if (tlsFiles && !security.Tls) throw new InvalidOperationException("Redis:Security TLS files are set but Redis:Security:Tls is false");
        if (!security.Tls) return options;
        options.Ssl = true;
        options.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
        if (!string.IsNullOrWhiteSpace(security.TlsHost)) options.SslHost = security.TlsHost;
        if (security.CaFile is not null) options.TrustIssuer(Existing(security.CaFile, "Redis:Security:CaFile"));
        if ((security.CertificateFile is null) != (security.KeyFile is null))
            throw new InvalidOperationException("Redis:Security:CertificateFile and KeyFile go together (mutual TLS)");
        if (security.CertificateFile is not null)
            options.SetUserPemCertificate(Existing(security.CertificateFile, "Redis:Security:CertificateFile"), Existing(security.KeyFile!, "Redis:Security:KeyFile"));
        return options;
    }

    /// <summary>Connects with <paramref name="security"/>; returns even when the store is unreachable.</summary>
    public static async Task<IConnectionMultiplexer> ConnectAsync(string configuration, RedisSecurityOptions? security, TextWriter? log = null)
        => await ConnectionMultiplexer.ConnectAsync(CreateOptions(configuration, security), log).ConfigureAwait(false);

    private static string ReadSecret(string path, string setting)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}: cannot read {path} ({e.GetType().Name})");
        }
        if (text.EndsWith("\r\n", StringComparison.Ordinal)) text = text[..^2];
        else if (text.EndsWith('\n')) text = text[..^1];
        return text.Length > 0 ? text : throw new InvalidOperationException($"{setting}: {path} is empty");
    }

    private static string Existing(string path, string setting) =>
        File.Exists(path) ? path : throw new InvalidOperationException($"{setting}: {path} does not exist");
}
