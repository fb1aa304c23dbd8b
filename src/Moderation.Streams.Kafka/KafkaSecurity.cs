namespace Moderation.Streams.Kafka;

/// <summary>Turns <see cref="KafkaSecurityOptions"/> into librdkafka settings for both clients.</summary>
public static class KafkaSecurity
{
    private static readonly string[] Protocols = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
    private static readonly string[] Mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

    /// <summary>librdkafka settings whose values are secrets: never logged, never shown by <see cref="Describe"/>.</summary>
    public static bool IsSecret(string key) =>
        key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || key.Equals("sasl.oauthbearer.config", StringComparison.OrdinalIgnoreCase) || key.EndsWith(".pem", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>Kafka:Properties</c> with the security settings applied over them: the base of admin clients.</summary>
    /// <exception cref="InvalidOperationException">The settings are incomplete or inconsistent, or a secret file is missing
    /// (the message names the setting and the file, never a secret).</exception>
    public static Dictionary<string, string> Properties(KafkaOptions options)
    {
        var properties = new Dictionary<string, string>(options.Properties);
        Apply(properties, options.Security);
        return properties;
    }

    /// <summary><see cref="Properties"/> with <c>Kafka:ConsumerProperties</c> between the free-form and the security
    /// settings: the base of the replay's and readers' consumers.</summary>
    /// <exception cref="InvalidOperationException">As <see cref="Properties"/>.</exception>
    public static Dictionary<string, string> ConsumerProperties(KafkaOptions options)
    {
        var properties = new Dictionary<string, string>(options.Properties);
        foreach (var (key, value) in options.ConsumerProperties) properties[key] = value;
        Apply(properties, options.Security);
        return properties;
    }

    public static void Apply(IDictionary<string, string> properties, KafkaSecurityOptions security)
    {
        if (string.IsNullOrWhiteSpace(security.Protocol)) return;
        var protocol = security.Protocol.Trim().ToLowerInvariant().Replace('-', '_');
        if (!Protocols.Contains(protocol))
            throw Invalid($"Kafka:Security:Protocol '{security.Protocol}' is not one of {string.Join(", ", Protocols)}");
        properties["security.protocol"] = protocol;

        if (protocol.StartsWith("sasl", StringComparison.Ordinal))
        {
            var mechanism = security.SaslMechanism?.Trim().ToUpperInvariant();
            if (mechanism is null || !Mechanisms.Contains(mechanism))
                throw Invalid($"Kafka:Security:SaslMechanism must be one of {string.Join(", ", Mechanisms)} with protocol {protocol}");
            properties["sasl.mechanism"] = mechanism;
            if (mechanism == "OAUTHBEARER")
            {
                if (!Uri.TryCreate(security.OAuthTokenEndpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme != Uri.UriSchemeHttps)
                    throw Invalid("Kafka:Security:OAuthTokenEndpoint must be an https URL for OAUTHBEARER");
                properties["sasl.oauthbearer.method"] = "oidc";
                properties["sasl.oauthbearer.token.endpoint.url"] = endpoint.AbsoluteUri;
                properties["sasl.oauthbearer.client.id"] = Required(security.OAuthClientId, "Kafka:Security:OAuthClientId");
                properties["sasl.oauthbearer.client.secret"] = ReadSecret(security.OAuthClientSecretFile, "Kafka:Security:OAuthClientSecretFile");
                if (!string.IsNullOrWhiteSpace(security.OAuthScope)) properties["sasl.oauthbearer.scope"] = security.OAuthScope;
                if (!string.IsNullOrWhiteSpace(security.OAuthExtensions)) properties["sasl.oauthbearer.extensions"] = security.OAuthExtensions;
            }
            else
            {
                properties["sasl.username"] = Required(security.Username, "Kafka:Security:Username");
                properties["sasl.password"] = ReadSecret(security.PasswordFile, "Kafka:Security:PasswordFile");
            }
        }
        else if (!string.IsNullOrWhiteSpace(security.SaslMechanism))
        {
            throw Invalid($"Kafka:Security:SaslMechanism is set but protocol {protocol} does not use SASL");
        }

        bool tls = protocol is "ssl" or "sasl_ssl";
        if (!tls && (security.CaFile ?? security.CertificateFile ?? security.KeyFile) is not null)
            throw Invalid($"Kafka:Security TLS files are set but protocol {protocol} does not use TLS");
        if (!tls) return;
        properties["ssl.endpoint.identification.algorithm"] = security.VerifyHostname ? "https" : "none";
        if (security.CaFile is not null) properties["ssl.ca.location"] = ExistingFile(security.CaFile, "Kafka:Security:CaFile");
        if ((security.CertificateFile is null) != (security.KeyFile is null))
            throw Invalid("Kafka:Security:CertificateFile and KeyFile go together (mutual TLS)");
        if (security.CertificateFile is not null)
        {
            properties["ssl.certificate.location"] = ExistingFile(security.CertificateFile, "Kafka:Security:CertificateFile");
            properties["ssl.key.location"] = ExistingFile(security.KeyFile!, "Kafka:Security:KeyFile");
            if (security.KeyPasswordFile is not null)
                properties["ssl.key.password"] = ReadSecret(security.KeyPasswordFile, "Kafka:Security:KeyPasswordFile");
        }
    }

    /// <summary>A one-line summary of client settings safe to log: secrets shown as <c>[redacted]</c>.</summary>
    public static string Describe(IEnumerable<KeyValuePair<string, string>> config) =>
        string.Join(" ", config.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}={(IsSecret(kv.Key) ? "[redacted]" : kv.Value)}"));

    /// <summary>Reads a secret file; one trailing newline (as editors and <c>echo</c> write) is not part of the secret.</summary>
    public static string ReadSecret(string? path, string setting)
    {
        if (string.IsNullOrWhiteSpace(path)) throw Invalid($"{setting} is required");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"{setting}: cannot read {path} ({e.GetType().Name})");
        }
        if (text.EndsWith("\r\n", StringComparison.Ordinal)) text = text[..^2];
        else if (text.EndsWith('\n')) text = text[..^1];
        if (text.Length == 0) throw Invalid($"{setting}: {path} is empty");
        return text;
    }

    private static string ExistingFile(string path, string setting) =>
        File.Exists(path) ? path : throw Invalid($"{setting}: {path} does not exist");

    private static string Required(string? value, string setting) =>
        string.IsNullOrWhiteSpace(value) ? throw Invalid($"{setting} is required") : value;

    private static InvalidOperationException Invalid(string message) => new(message);
}
