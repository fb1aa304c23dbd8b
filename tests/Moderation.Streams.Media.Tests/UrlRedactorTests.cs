using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

public class UrlRedactorTests
{
    [Theory]
    [InlineData("https://user:pw@cdn.example/a/b.png?X-Amz-Signature=abc#f", "https://cdn.example/a/b.png?…")]
    [InlineData("https://cdn.example:8443/a.png", "https://cdn.example:8443/a.png")]
    [InlineData("http://cdn.example/a.png", "http://cdn.example/a.png")]
    [InlineData("file:///srv/media/a.png?x=1", "file:///srv/media/a.png?…")]
    [InlineData("data:image/png;base64,AAAA", "data:…")]
    [InlineData("javascript:alert(document.cookie)", "javascript:…")]
    [InlineData("not a url", "<not an absolute URL>")]
    [InlineData("", "<none>")]
    public void Logged_urls_keep_scheme_host_and_path_only(string url, string expected)
    {
        Assert.Equal(expected, UrlRedactor.Redact(url));
    }

    [Fact]
    public void Long_urls_are_cut_and_control_characters_replaced()
    {
        var redacted = UrlRedactor.Redact("https://cdn.example/" + new string('a', 500));
        Assert.Equal(UrlRedactor.MaxLength + 1, redacted.Length);
        Assert.EndsWith("…", redacted);
        Assert.DoesNotContain('\n', UrlRedactor.Redact("https://cdn.example/a%0Ab\n.png"));
    }

    [Theory]
    [InlineData("https://cdn.example/a\u2028b.png")]
    [InlineData("https://cdn.example/a\u0085b\u202Ec.png")]
    [InlineData("https://cdn.exa\u2028mple/a.png")]
    [InlineData("https://cdn.exa\u202Emple/a.png")]
    [InlineData("https://xn--cdn-\u200B.example/a.png")]
    [InlineData("file:///srv/media/a\u001B[2J\u2029.png")]
    [InlineData("https://cdn.example/\uD800.png")]
    public void Format_characters_separators_and_lone_surrogates_never_reach_a_log(string url)
    {
        var redacted = UrlRedactor.Redact(url);
        Assert.True(Contracts.SafeText.IsClean(redacted), redacted);
    }
}
