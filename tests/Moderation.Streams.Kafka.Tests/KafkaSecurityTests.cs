using System.Collections.Concurrent;
using Confluent.Kafka;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>Kafka:Security becomes librdkafka settings for both clients; secrets come from files and never show.</summary>
public sealed class KafkaSecurityTests : IDisposable
{
    private const string Secret = "s3cr3t-P@ss-VALUE";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kafka-security-");

    public void Dispose() => _dir.Delete(true);

    private string File(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    private static KafkaOptions With(KafkaSecurityOptions security) => new() { BootstrapServers = "kafka-1:9093", Security = security };

    [Fact]
    public void Scram_over_tls_reaches_every_client_with_the_password_read_from_its_file()
    {
        var options = With(new KafkaSecurityOptions
        {
            Protocol = "SASL_SSL", SaslMechanism = "scram-sha-512", Username = "worker",
            PasswordFile = File("password", Secret + "\n"), CaFile = File("ca.pem", "-----BEGIN CERTIFICATE-----"),
        });
        foreach (ClientConfig config in new ClientConfig[] { KafkaClientConfig.Consumer(options), KafkaClientConfig.Producer(options), KafkaClientConfig.TransactionalProducer(options) })
        {
            Assert.Equal(SecurityProtocol.SaslSsl, config.SecurityProtocol);
            Assert.Equal(SaslMechanism.ScramSha512, config.SaslMechanism);
            Assert.Equal("worker", config.SaslUsername);
            Assert.Equal(Secret, config.SaslPassword); // the trailing newline of the file is not part of it
            Assert.Equal(Path.Combine(_dir.FullName, "ca.pem"), config.SslCaLocation);
            Assert.Equal(SslEndpointIdentificationAlgorithm.Https, config.SslEndpointIdentificationAlgorithm);
            var described = KafkaSecurity.Describe(config);
            Assert.Contains("sasl.password=[redacted]", described);
            Assert.DoesNotContain(Secret, described);
        }
    }

    [Fact]
    public void Oauthbearer_uses_oidc_client_credentials_with_the_secret_from_its_file()
    {
        var config = KafkaClientConfig.Consumer(With(new KafkaSecurityOptions
        {
            Protocol = "sasl_ssl", SaslMechanism = "OAUTHBEARER", OAuthTokenEndpoint = "https://idp.example/oauth2/token",
            OAuthClientId = "moderation", OAuthClientSecretFile = File("client-secret", Secret), OAuthScope = "kafka",
            OAuthExtensions = "logicalCluster=lkc-1",
        }));
        Assert.Equal(SaslMechanism.OAuthBearer, config.SaslMechanism);
        Assert.Equal(SaslOauthbearerMethod.Oidc, config.SaslOauthbearerMethod);
        Assert.Equal("https://idp.example/oauth2/token", config.SaslOauthbearerTokenEndpointUrl);
        Assert.Equal("moderation", config.SaslOauthbearerClientId);
        Assert.Equal(Secret, config.SaslOauthbearerClientSecret);
        Assert.Equal("kafka", config.SaslOauthbearerScope);
        Assert.DoesNotContain(Secret, KafkaSecurity.Describe(config));
    }

    [Fact]
    public void Mutual_tls_takes_certificate_key_and_key_password_files()
    {
        var config = KafkaClientConfig.Producer(With(new KafkaSecurityOptions
        {
            Protocol = "ssl", CertificateFile = File("client.pem", "cert"), KeyFile = File("client.key", "key"),
            KeyPasswordFile = File("key-password", Secret), VerifyHostname = false,
        }));
        Assert.Equal(SecurityProtocol.Ssl, config.SecurityProtocol);
        Assert.Equal(Path.Combine(_dir.FullName, "client.pem"), config.SslCertificateLocation);
        Assert.Equal(Path.Combine(_dir.FullName, "client.key"), config.SslKeyLocation);
        Assert.Equal(Secret, config.SslKeyPassword);
        Assert.Equal(SslEndpointIdentificationAlgorithm.None, config.SslEndpointIdentificationAlgorithm);
    }

    [Fact]
    public void Without_a_protocol_the_properties_stay_in_charge()
    {
        var options = new KafkaOptions { Properties = { ["security.protocol"] = "ssl" } };
        Assert.Equal(SecurityProtocol.Ssl, KafkaClientConfig.Consumer(options).SecurityProtocol);
        Assert.Null(KafkaClientConfig.Consumer(new KafkaOptions()).SecurityProtocol);
    }

    public static TheoryData<string> BadSettings() => ["protocol", "mechanism", "no-password-file", "empty-password", "http-endpoint", "tls-on-plaintext", "cert-without-key", "missing-ca"];

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Incomplete_or_inconsistent_settings_stop_the_start_with_a_message_that_shows_no_secret(string bad)
    {
        var password = File("password", Secret);
        var security = bad switch
        {
            "protocol" => new KafkaSecurityOptions { Protocol = "tls" },
            "mechanism" => new KafkaSecurityOptions { Protocol = "sasl_ssl", SaslMechanism = "GSSAPI", Username = "u", PasswordFile = password },
            "no-password-file" => new KafkaSecurityOptions { Protocol = "sasl_ssl", SaslMechanism = "PLAIN", Username = "u", PasswordFile = Path.Combine(_dir.FullName, "nope") },
            "empty-password" => new KafkaSecurityOptions { Protocol = "sasl_ssl", SaslMechanism = "PLAIN", Username = "u", PasswordFile = File("empty", "\n") },
            "http-endpoint" => new KafkaSecurityOptions { Protocol = "sasl_ssl", SaslMechanism = "OAUTHBEARER", OAuthTokenEndpoint = "http://idp.example/token", OAuthClientId = "c", OAuthClientSecretFile = password },
            "tls-on-plaintext" => new KafkaSecurityOptions { Protocol = "sasl_plaintext", SaslMechanism = "PLAIN", Username = "u", PasswordFile = password, CaFile = password },
            "cert-without-key" => new KafkaSecurityOptions { Protocol = "ssl", CertificateFile = password },
            _ => new KafkaSecurityOptions { Protocol = "ssl", CaFile = Path.Combine(_dir.FullName, "missing-ca.pem") },
        };
        var e = Assert.Throws<InvalidOperationException>(() => KafkaClientConfig.Consumer(With(security)));
        Assert.Contains("Kafka:Security", e.Message);
        Assert.DoesNotContain(Secret, e.Message);
    }

    [Fact]
    public void Librdkafka_never_logs_the_password_even_with_every_debug_context_on()
    {
        using var broker = EmbeddedKafkaBroker.Start();
        var options = new KafkaOptions
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "security-test",
            Security = new KafkaSecurityOptions { Protocol = "sasl_plaintext", SaslMechanism = "SCRAM-SHA-256", Username = "worker", PasswordFile = File("password", Secret) },
        };
        var config = KafkaClientConfig.Consumer(options);
        config.Debug = "all";
        var lines = new ConcurrentQueue<string>();
        using (var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, m) => lines.Enqueue(m.Message))
            .SetErrorHandler((_, e) => lines.Enqueue(e.Reason))
            .Build())
        {
            consumer.Subscribe("uploads");
            // Run until the client has tried to authenticate (or a bounded deadline passes).
            var end = DateTime.UtcNow + BrokerClients.Deadline;
            while (DateTime.UtcNow < end && !lines.Any(l => l.Contains("SCRAM", StringComparison.OrdinalIgnoreCase) || l.Contains("SASL", StringComparison.Ordinal)))
                consumer.Consume(TimeSpan.FromMilliseconds(100));
            consumer.Close();
        }
        Assert.Contains(lines, l => l.Contains("SASL", StringComparison.Ordinal) || l.Contains("SCRAM", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(lines, l => l.Contains("sasl.password", StringComparison.Ordinal)); // the configuration dump names it…
        Assert.DoesNotContain(lines, l => l.Contains(Secret, StringComparison.Ordinal)); // …but never shows it
    }
}
