using System.Net;
using System.Net.Sockets;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

/// <summary>
/// Remote fetches against a real HTTP server on loopback. The reader under test is built with the internal,
/// test-only permission to reach loopback (never configurable); every other rule still applies to it.
/// </summary>
public sealed class MediaFetchTests : IAsyncLifetime
{
    private readonly LoopbackHttpServer _server = new();
    private static readonly byte[] Png = SampleImages.Png(7, 32, 24);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static MediaReader TestReader(int maxRedirects = 3, long maxBytes = 1024 * 1024, TimeSpan? fetchTimeout = null) =>
        new(new MediaOptions
        {
            AllowedHosts = ["localhost"],
            AllowHttp = true,
            MaxRedirects = maxRedirects,
            MaxBytes = maxBytes,
            FetchTimeout = fetchTimeout ?? TimeSpan.FromSeconds(10),
        }, permitLoopbackForTests: true);

    private static async Task<ModerationException> Refused(MediaReader reader, string url) =>
        await Assert.ThrowsAsync<ModerationException>(() => reader.ReadAsync(new MediaRef { Url = url }, TestContext.Current.CancellationToken));

    [Fact]
    public async Task Bytes_are_what_the_decoder_judges_whatever_the_content_type_or_name_says()
    {
        _server.Bytes("/photo.html", Png, contentType: "text/html");
        _server.Bytes("/photo.png", "<html><script>alert(1)</script></html>"u8.ToArray(), contentType: "image/png");
        using var reader = TestReader();

        var bytes = await reader.ReadAsync(new MediaRef { Url = _server.Url("/photo.html") }, TestContext.Current.CancellationToken);
        Assert.Equal(32, ImageDecoder.Decode(bytes).Width);
        var html = await reader.ReadAsync(new MediaRef { Url = _server.Url("/photo.png") }, TestContext.Current.CancellationToken);
        Assert.Equal(ErrorCodes.UnsupportedMedia, Assert.Throws<ModerationException>(() => ImageDecoder.Decode(html)).Code);
    }

    [Fact]
    public async Task Redirects_within_the_allow_list_are_followed()
    {
        _server.Bytes("/final.png", Png);
        _server.Redirect("/hop2", "/final.png", 307);
        _server.Redirect("/hop1", _server.Url("/hop2"), 301);
        using var reader = TestReader();
        Assert.Equal(Png, await reader.ReadAsync(new MediaRef { Url = _server.Url("/hop1") }, TestContext.Current.CancellationToken));
        Assert.Equal(["/hop1", "/hop2", "/final.png"], _server.Requests);
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/final.png")]          // loopback is reachable in this test, but not allow-listed
    [InlineData("http://169.254.169.254/latest/meta-data/")]   // metadata: never, whatever the allow-list
    [InlineData("http://[::ffff:a9fe:a9fe]/latest/meta-data/")]
    [InlineData("http://0xa9fea9fe/latest/meta-data/")]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://localhost/a.png")]
    [InlineData("http://user:pw@localhost:{port}/final.png")]
    public async Task Each_redirect_hop_is_checked_again_and_a_forbidden_target_is_never_contacted(string location)
    {
        _server.Bytes("/final.png", Png);
        _server.Redirect("/start", location.Replace("{port}", _server.Port.ToString()));
        using var reader = TestReader();
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await Refused(reader, _server.Url("/start"))).Code);
        Assert.Equal(["/start"], _server.Requests);
    }

    [Fact]
    public async Task Redirect_chains_are_bounded_and_zero_refuses_redirects()
    {
        _server.Redirect("/loop", "/loop");
        using (var reader = TestReader(maxRedirects: 3))
            Assert.Equal(ErrorCodes.ForbiddenUrl, (await Refused(reader, _server.Url("/loop"))).Code);
        Assert.Equal(4, _server.Requests.Count);

        _server.Bytes("/final.png", Png);
        _server.Redirect("/once", "/final.png");
        using (var reader = TestReader(maxRedirects: 0))
            Assert.Equal(ErrorCodes.ForbiddenUrl, (await Refused(reader, _server.Url("/once"))).Code);
    }

    [Fact]
    public async Task The_size_cap_holds_for_declared_and_for_streamed_bodies()
    {
        _server.Bytes("/declared", new byte[5000]);
        _server.Route("/endless", async (s, ct) =>
        {
            await LoopbackHttpServer.WriteAsync(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", [], ct);
            var chunk = new byte[16 * 1024];
            for (int i = 0; i < 10_000; i++) await s.WriteAsync(chunk, ct); // 160 MiB if nobody stops reading
        });
        using var reader = TestReader(maxBytes: 4096);
        Assert.Equal(ErrorCodes.MediaTooLarge, (await Refused(reader, _server.Url("/declared"))).Code);
        Assert.Equal(ErrorCodes.MediaTooLarge, (await Refused(reader, _server.Url("/endless"))).Code);
    }

    [Fact]
    public async Task A_server_that_stalls_costs_the_fetch_budget_and_answers_media_unavailable()
    {
        var release = new TaskCompletionSource();
        _server.Route("/stall-headers", async (s, ct) => await release.Task.WaitAsync(ct));
        _server.Route("/stall-body", async (s, ct) =>
        {
            await LoopbackHttpServer.WriteAsync(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", [0xFF, 0xD8], ct);
            await release.Task.WaitAsync(ct);
        });
        using var reader = TestReader(fetchTimeout: TimeSpan.FromMilliseconds(300));
        Assert.Equal(ErrorCodes.MediaUnavailable, (await Refused(reader, _server.Url("/stall-headers"))).Code);
        Assert.Equal(ErrorCodes.MediaUnavailable, (await Refused(reader, _server.Url("/stall-body"))).Code);
        release.SetResult();
    }

    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(304)]
    public async Task Error_statuses_are_media_unavailable(int status)
    {
        _server.Route("/x", (s, ct) => LoopbackHttpServer.WriteAsync(s, $"HTTP/1.1 {status} Nope\r\nContent-Length: 0\r\n\r\n", [], ct));
        using var reader = TestReader();
        Assert.Equal(ErrorCodes.MediaUnavailable, (await Refused(reader, _server.Url("/x"))).Code);
    }

    [Fact]
    public async Task Messages_never_carry_query_strings_or_credentials()
    {
        _server.Route("/x", (s, ct) => LoopbackHttpServer.WriteAsync(s, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", [], ct));
        using var reader = TestReader();
        var e = await Refused(reader, _server.Url("/x") + "?X-Amz-Signature=SECRET-TOKEN#frag");
        Assert.Equal(ErrorCodes.MediaUnavailable, e.Code);
        Assert.DoesNotContain("SECRET-TOKEN", e.Message);
        Assert.Contains("/x", e.Message);
    }

    [Theory]
    [InlineData("http://localhost:{port}/a.png")]
    [InlineData("http://127.0.0.1:{port}/a.png")]
    [InlineData("http://127.1:{port}/a.png")]
    [InlineData("http://0x7f000001:{port}/a.png")]
    [InlineData("http://2130706433:{port}/a.png")]
    [InlineData("http://0177.0.0.1:{port}/a.png")]
    [InlineData("http://127.0.0.1.:{port}/a.png")]
    [InlineData("http://[::ffff:7f00:1]:{port}/a.png")]
    [InlineData("http://[::ffff:127.0.0.1]:{port}/a.png")]
    public async Task In_production_loopback_is_never_contacted_even_when_allow_listed(string url)
    {
        _server.Bytes("/a.png", Png);
        using var reader = new MediaReader(new MediaOptions { AllowedHosts = ["localhost", "127.0.0.1", "::ffff:127.0.0.1", "127.0.0.1."], AllowHttp = true });
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await Refused(reader, url.Replace("{port}", _server.Port.ToString()))).Code);
        Assert.Equal(0, _server.Connections);
    }

    [Fact]
    public async Task The_positive_control_connects()
    {
        _server.Bytes("/a.png", Png);
        using var reader = TestReader();
        await reader.ReadAsync(new MediaRef { Url = _server.Url("/a.png") }, TestContext.Current.CancellationToken);
        Assert.Equal(1, _server.Connections);
    }

    public static TheoryData<string, string> HostileUrls()
    {
        var data = new TheoryData<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "corpus", "urls.csv")).Skip(1))
        {
            int comma = line.LastIndexOf(',');
            data.Add(line[..comma], line[(comma + 1)..]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(HostileUrls))]
    public async Task Every_hostile_url_of_the_corpus_is_refused_before_any_network_access(string url, string expected)
    {
        var root = Directory.CreateTempSubdirectory("media-root-");
        try
        {
            // Nothing here may resolve or connect: the only allow-listed host appears only with a forbidden scheme or credentials.
            using var reader = new MediaReader(new MediaOptions { Root = root.FullName, AllowedHosts = ["cdn.example"] });
            var e = await Refused(reader, url);
            Assert.Equal(expected, e.Code);
            Assert.DoesNotContain("secret", e.Message);
        }
        finally
        {
            root.Delete(true);
        }
    }
}
