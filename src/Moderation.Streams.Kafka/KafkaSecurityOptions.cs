namespace Moderation.Streams.Kafka;

/// <summary>
/// How the worker authenticates to Kafka and protects the connection (configuration section
/// <c>Kafka:Security</c>). Secrets are never configuration values: they are read from files (Kubernetes
/// Secret volumes), so they stay out of environment dumps, <c>appsettings.json</c> and logs.
/// </summary>
public sealed class KafkaSecurityOptions
{
    /// <summary><c>plaintext</c>, <c>ssl</c>, <c>sasl_plaintext</c> or <c>sasl_ssl</c>; empty leaves
    /// <c>Kafka:Properties</c> (or librdkafka's default, plaintext) in charge.</summary>
    public string? Protocol { get; set; }

    /// <summary><c>PLAIN</c>, <c>SCRAM-SHA-256</c>, <c>SCRAM-SHA-512</c> or <c>OAUTHBEARER</c> (OIDC client credentials).</summary>
    public string? SaslMechanism { get; set; }

    public string? Username { get; set; }

    /// <summary>File holding the SASL password (PLAIN, SCRAM); one trailing newline is ignored.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>OAUTHBEARER: the identity provider's token endpoint (https only).</summary>
    public string? OAuthTokenEndpoint { get; set; }

    public string? OAuthClientId { get; set; }

    public string? OAuthClientSecretFile { get; set; }

    public string? OAuthScope { get; set; }

    /// <summary>OAUTHBEARER SASL extensions, <c>key=value,…</c> (e.g. Confluent Cloud's logicalCluster).</summary>
    public string? OAuthExtensions { get; set; }

    /// <summary>PEM file of the CAs that sign the brokers' certificates (default: the system's).</summary>
    public string? CaFile { get; set; }

    /// <summary>Client certificate (PEM) for mutual TLS, with <see cref="KeyFile"/>.</summary>
    public string? CertificateFile { get; set; }

    public string? KeyFile { get; set; }

    public string? KeyPasswordFile { get; set; }

    /// <summary>Check that the broker's certificate names the host connected to (on by default; off only for labs).</summary>
    public bool VerifyHostname { get; set; } = true;
}
