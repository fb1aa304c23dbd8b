using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests;

/// <summary>
/// Redis:Security against a real redis-server with TLS (certificates made by the test, signed by its own CA)
/// and an ACL user whose password is read from a file; the default user is off.
/// </summary>
public sealed class RedisSecurityTests : IAsyncLifetime
{
    private const string Password = "acl-P@ssw0rd-SECRET";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("redis-tls-");
    private Process? _server;
    private int _port;

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    public async ValueTask InitializeAsync()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=moderation-test-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=redis.test", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("redis.test");
        serverRequest.CertificateExtensions.Add(san.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), [1, 2, 3, 4]);
        await File.WriteAllTextAsync(PathOf("ca.pem"), ca.ExportCertificatePem());
        await File.WriteAllTextAsync(PathOf("server.pem"), server.ExportCertificatePem());
        await File.WriteAllTextAsync(PathOf("server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(PathOf("password"), Password + "\n");

        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            _port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var info = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     "--port", "0", "--tls-port", _port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", _dir.FullName, "--tls-cert-file", PathOf("server.pem"), "--tls-key-file", PathOf("server.key"),
                     "--tls-ca-cert-file", PathOf("ca.pem"), "--tls-auth-clients", "no",
                     "--user", "default", "off", "--user", "worker", "on", ">" + Password, "~moderation:*", "+@all",
                 })
        {
            info.ArgumentList.Add(arg);
        }
        _server = Process.Start(info)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        // Wait (bounded) until the TLS port accepts connections.
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, _port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < end && !_server.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }
        _server?.Dispose();
        _dir.Delete(true);
    }

    private RedisSecurityOptions Secure(string? caFile = "ca.pem", string passwordFile = "password") => new()
    {
        Tls = true, TlsHost = "redis.test", User = "worker", PasswordFile = PathOf(passwordFile), CaFile = caFile is null ? null : PathOf(caFile),
    };

    [Fact]
    public async Task Tls_with_a_private_ca_and_an_acl_user_whose_password_comes_from_a_file_connects()
    {
        var log = new StringWriter();
        await using var connection = await RedisConnector.ConnectAsync($"127.0.0.1:{_port}", Secure(), log);
        Assert.True(connection.IsConnected, log.ToString());
        var db = connection.GetDatabase();
        await db.StringSetAsync("moderation:tls-test", "ok");
        Assert.Equal("ok", (string?)await db.StringGetAsync("moderation:tls-test"));
        // ACL: the user may only touch the service's keys.
        await Assert.ThrowsAsync<RedisServerException>(() => db.StringSetAsync("other:key", "x"));
        Assert.DoesNotContain(Password, log.ToString());
        // Careful: the multiplexer's Configuration string does carry the password; it must never be logged.
        Assert.Contains(Password, connection.Configuration);
    }

    [Fact]
    public async Task A_server_certificate_from_an_unknown_ca_or_a_wrong_password_does_not_connect()
    {
        await File.WriteAllTextAsync(PathOf("wrong-password"), "nope", TestContext.Current.CancellationToken);
        await using (var untrusted = await RedisConnector.ConnectAsync($"127.0.0.1:{_port}", Secure(caFile: null)))
            Assert.False(untrusted.IsConnected);
        await using (var wrong = await RedisConnector.ConnectAsync($"127.0.0.1:{_port}", Secure(passwordFile: "wrong-password")))
            Assert.False(wrong.IsConnected);
    }

    [Fact]
    public void Settings_are_checked_without_showing_the_secret()
    {
        var options = RedisConnector.CreateOptions("cache:6380", Secure());
        Assert.True(options.Ssl);
        Assert.Equal("worker", options.User);
        Assert.Equal(Password, options.Password); // one trailing newline of the file dropped
        Assert.DoesNotContain(Password, options.ToString(includePassword: false));
        var e = Assert.Throws<InvalidOperationException>(() => RedisConnector.CreateOptions("cache:6380", new RedisSecurityOptions { CaFile = PathOf("ca.pem") }));
        Assert.Contains("Tls", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => RedisConnector.CreateOptions("cache:6380", new RedisSecurityOptions { PasswordFile = PathOf("missing") }));
        Assert.Contains("Redis:Security:PasswordFile", e.Message);
    }
}
