using System.Net;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

public sealed class MediaReaderTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("media-root-");
    private readonly DirectoryInfo _outside = Directory.CreateTempSubdirectory("media-outside-");

    public void Dispose()
    {
        _root.Delete(true);
        _outside.Delete(true);
    }

    private MediaReader Reader(long maxBytes = 1024 * 1024) => new(new MediaOptions { Root = _root.FullName, MaxBytes = maxBytes });

    private static async Task<string> CodeOf(MediaReader reader, MediaRef media) =>
        (await Assert.ThrowsAsync<ModerationException>(() => reader.ReadAsync(media, CancellationToken.None))).Code;

    [Fact]
    public async Task Files_under_the_media_root_are_read()
    {
        var path = Path.Combine(_root.FullName, "sub", "a.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, [1, 2, 3], TestContext.Current.CancellationToken);
        using var reader = Reader();
        Assert.Equal(new byte[] { 1, 2, 3 }, await reader.ReadAsync(new MediaRef { Url = new Uri(path).AbsoluteUri }, CancellationToken.None));
    }

    [Fact]
    public async Task Paths_outside_the_root_are_forbidden_even_through_traversal_or_symlinks()
    {
        var secret = Path.Combine(_outside.FullName, "secret.png");
        await File.WriteAllBytesAsync(secret, [4], TestContext.Current.CancellationToken);
        File.CreateSymbolicLink(Path.Combine(_root.FullName, "link.png"), secret);
        Directory.CreateSymbolicLink(Path.Combine(_root.FullName, "dirlink"), _outside.FullName);
        using var reader = Reader();
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "file:///etc/passwd" }));
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "file://" + _root.FullName + "/../" + _outside.Name + "/secret.png" }));
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = new Uri(Path.Combine(_root.FullName, "link.png")).AbsoluteUri }));
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = new Uri(Path.Combine(_root.FullName, "dirlink", "secret.png")).AbsoluteUri }));
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "file://evil.example/" + _root.FullName + "/a.png" }));
    }

    [Fact]
    public async Task A_prefix_sibling_of_the_root_is_not_under_it()
    {
        var sibling = _root.FullName + "-evil";
        Directory.CreateDirectory(sibling);
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(sibling, "x.png"), [1], TestContext.Current.CancellationToken);
            using var reader = Reader();
            Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = new Uri(Path.Combine(sibling, "x.png")).AbsoluteUri }));
        }
        finally
        {
            Directory.Delete(sibling, true);
        }
    }

    [Fact]
    public async Task Missing_files_are_unavailable_and_large_ones_too_large()
    {
        await File.WriteAllBytesAsync(Path.Combine(_root.FullName, "big.png"), new byte[2000], TestContext.Current.CancellationToken);
        using var reader = Reader(maxBytes: 1000);
        Assert.Equal(ErrorCodes.MediaUnavailable, await CodeOf(reader, new MediaRef { Url = new Uri(Path.Combine(_root.FullName, "nope.png")).AbsoluteUri }));
        Assert.Equal(ErrorCodes.MediaTooLarge, await CodeOf(reader, new MediaRef { Url = new Uri(Path.Combine(_root.FullName, "big.png")).AbsoluteUri }));
        Assert.Equal(ErrorCodes.MediaTooLarge, await CodeOf(reader, new MediaRef { Data = new byte[1001] }));
    }

    [Fact]
    public async Task Without_a_media_root_file_urls_are_forbidden()
    {
        using var reader = new MediaReader(new MediaOptions());
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "file:///tmp/a.png" }));
    }

    [Theory]
    [InlineData("http://cdn.example/a.png")]             // http is off by default
    [InlineData("https://not-allowed.example/a.png")]    // not on the allow-list
    [InlineData("https://user:pw@cdn.example/a.png")]    // credentials
    [InlineData("ftp://cdn.example/a.png")]
    [InlineData("gopher://cdn.example/a.png")]
    [InlineData("relative/path.png")]
    [InlineData("https://img.example/a.png")]            // the apex is not covered by "*.img.example"
    [InlineData("https://evilimg.example/a.png")]
    [InlineData("https://a.img.example.evil.example/a.png")]
    public async Task Remote_urls_outside_the_rules_are_forbidden_without_any_connection(string url)
    {
        using var reader = new MediaReader(new MediaOptions { AllowedHosts = ["cdn.example", "*.img.example"] });
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = url }));
    }

    [Fact]
    public async Task An_allow_listed_host_that_resolves_to_loopback_is_forbidden()
    {
        using var reader = new MediaReader(new MediaOptions { AllowedHosts = ["localhost", "127.0.0.1"], AllowHttp = true });
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "http://localhost:9/a.png" }));
        Assert.Equal(ErrorCodes.ForbiddenUrl, await CodeOf(reader, new MediaRef { Url = "https://127.0.0.1:9/a.png" }));
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:169.254.169.254", false)]
    [InlineData("64:ff9b::7f00:1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("192.0.2.1", false)]
    [InlineData("198.18.0.1", false)]
    [InlineData("::", false)]
    [InlineData("::127.0.0.1", false)]
    [InlineData("2002:7f00:1::1", false)]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("100::1", false)]
    [InlineData("ff02::1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("2606:4700::1111", true)]
    public void Only_public_addresses_may_be_contacted(string address, bool expected)
    {
        Assert.Equal(expected, MediaReader.IsPublic(IPAddress.Parse(address)));
    }
}
