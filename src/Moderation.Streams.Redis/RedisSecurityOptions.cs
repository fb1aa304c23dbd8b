namespace Moderation.Streams.Redis;

/// <summary>
/// TLS and authentication for Redis (configuration section <c>Redis:Security</c>), on top of
/// <c>Redis:Configuration</c>. The password is read from a file (a Kubernetes Secret volume), never configured inline.
/// </summary>
public sealed class RedisSecurityOptions
{
    /// <summary>ACL user (Redis 6+); empty = the default user.</summary>
    public string? User { get; set; }

    /// <summary>File holding the password (one trailing newline ignored).</summary>
    public string? PasswordFile { get; set; }

    public bool Tls { get; set; }

    /// <summary>Name expected on the server's certificate when it differs from the host connected to.</summary>
    public string? TlsHost { get; set; }

    /// <summary>PEM CA that issued the server's certificate, when it is not in the system's trust store.</summary>
    public string? CaFile { get; set; }

    /// <summary>Client certificate and key (PEM) for servers that require mutual TLS (<c>tls-auth-clients yes</c>).</summary>
    public string? CertificateFile { get; set; }

    public string? KeyFile { get; set; }
}
