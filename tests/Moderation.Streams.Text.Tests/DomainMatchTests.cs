namespace Moderation.Streams.Text.Tests;

/// <summary>Domains match themselves and every subdomain, in plain, bare and defanged links, after canonicalisation.</summary>
public sealed class DomainMatchTests
{
    private static readonly DomainBank Phish = Banks.Domains("domain,category,id\nbad.example,phishing,d1\nBücher.Example.,phishing,d2\n", "phish");

    public static TheoryData<string, string, string> Links => new()
    {
        { "go to https://bad.example/login now", "bad.example", "d1" },
        { "go to http://user:pw@BAD.example:8443/x now", "BAD.example", "d1" },
        { "go to bad.example/x now", "bad.example", "d1" },
        { "go to www.bad.example now", "www.bad.example", "d1" },
        { "go to login.secure.bad.example. now", "login.secure.bad.example", "d1" },
        { "go to bad[.]example now", "bad[.]example", "d1" },
        { "go to bad(.)example now", "bad(.)example", "d1" },
        { "go to bad{.}example now", "bad{.}example", "d1" },
        { "go to bad[dot]example now", "bad[dot]example", "d1" },
        { "go to bad dot example now", "bad dot example", "d1" },
        { "go to hxxps://bad[.]example/x now", "bad[.]example", "d1" },
        { "go to ｂａｄ．ｅｘａｍｐｌｅ now", "ｂａｄ．ｅｘａｍｐｌｅ", "d1" },
        { "go to bad。example now", "bad。example", "d1" },
        { "go to b\u200Bad.example now", "b\u200Bad.example", "d1" },
        { "go to bücher.example now", "bücher.example", "d2" },
        { "go to shop.BÜCHER.example now", "shop.BÜCHER.example", "d2" },
        { "go to xn--bcher-kva.example now", "xn--bcher-kva.example", "d2" },
        { "go to bаd.ехample now", "bаd.ехample", "d1" },                  // Cyrillic а, е, х: looks like bad.example
        { "go to ΒΑD.EXAMPLE now", "ΒΑD.EXAMPLE", "d1" },                  // Greek capitals
        { "go to \u202Eelpmaxe.dab\u202C now", "elpmaxe.dab", "d1" },     // drawn bad.example by a right-to-left override
        { "go to bad . example now", "bad . example", "d1" },              // a dot between single spaces
        { "go to bad\\.example now", "bad\\.example", "d1" },              // a backslash-escaped dot (Markdown)
        { "go to https://google.com@bad.example/x now", "bad.example", "d1" }, // the real host after a decoy userinfo
        { "go to https://b%61d.example/x now", "b%61d.example", "d1" },      // percent-escaped letter
        { "go to http://BAD%2Eexample/ now", "BAD%2Eexample", "d1" },       // percent-escaped dot
        { "go to b%C3%BCcher.example now", "b%C3%BCcher.example", "d2" },  // escaped UTF-8 (ü)
        { "go to ba\u0301d.example now", "ba\u0301d.example", "d1" },        // a combining accent inside a host
        { "go to ꓐꓮꓓ.example now", "ꓐꓮꓓ.example", "d1" },                  // Lisu look-alikes (Unicode's confusables table)
    };

    [Theory]
    [MemberData(nameof(Links))]
    public void A_link_to_a_listed_domain_or_subdomain_matches_with_original_offsets(string text, string named, string id)
    {
        var match = Assert.Single(Banks.Match(text, domains: Phish));

        Assert.Equal(TextMatchKinds.Domain, match.Kind);
        Assert.Equal("phish", match.Bank);
        Assert.Equal(id, match.Id);
        Assert.Equal("phishing", match.Category);
        Assert.Equal(named, text[match.Start..match.End]);
    }

    [Theory]
    [InlineData("go to notbad.example now")]
    [InlineData("go to bad.example.org now")]
    [InlineData("go to bad.examples now")]
    [InlineData("bad example")]
    [InlineData("go to bucher.example now")]
    [InlineData("go to bаdd.example now")]
    [InlineData("go to x%FF%61bad.example now")]        // an invalid escape stays as written: the host is abad.example
    [InlineData("go to bad%252Eexample now")]           // decoded once, as a URL parser does: bad%2Eexample is no host of ours
    [InlineData("go to b%61d.example.org now")]
    [InlineData("go to login.bad.example.evil.test now")]
    [InlineData("go to elpmaxe.dab now")]                 // reversed without an override is drawn reversed: no match
    [InlineData("that was bad  .  example")]             // more than one space around a dot is prose
    public void Other_domains_do_not_match(string text)
    {
        Assert.Empty(Banks.Match(text, domains: Phish));
    }

    [Fact]
    public void The_most_specific_listed_domain_is_reported_once_per_host()
    {
        var bank = Banks.Domains("example.com,spam,parent\nbad.example.com,phishing,child\n");

        var match = Assert.Single(Banks.Match("see x.bad.example.com", domains: bank));
        Assert.Equal("child", match.Id);
    }

    [Theory]
    [InlineData("https://bad.example/x")]
    [InlineData("bad")]
    [InlineData("user@bad.example")]
    [InlineData("a..b")]
    public void Bank_rows_that_are_not_domain_names_are_refused(string domain)
    {
        var e = Assert.Throws<TextBankException>(() => Banks.Domains($"{domain},phishing\n"));

        Assert.Equal(1, Assert.Single(e.Errors).Line);
    }

    [Fact]
    public void Canonical_hosts_are_lower_case_punycode_without_trailing_dot()
    {
        Assert.Equal("xn--bcher-kva.example", LinkFinder.Canonical("BÜCHER.example."));
        Assert.Equal(["bad.example", "www.other.example"], LinkFinder.Find("x https://u@Bad.Example:80/ y www.other.example.").Select(h => h.Host));
    }
}
