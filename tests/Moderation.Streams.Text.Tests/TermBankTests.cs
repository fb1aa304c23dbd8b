namespace Moderation.Streams.Text.Tests;

/// <summary>The <c>terms</c> file: <c>pattern,category[,id[,mode]]</c>, header optional, every bad row reported by
/// line, catastrophic regexes refused when the bank is loaded.</summary>
public sealed class TermBankTests
{
    [Fact]
    public void Rows_read_with_or_without_header_and_id_defaults_to_the_pattern()
    {
        var withHeader = Banks.Terms("pattern,category,id,mode\nscam,scam\n\"free, money\",spam,t2,substring\n# comment\n\n");
        var without = Banks.Terms("scam,scam,t1,word\n");

        Assert.Equal([new TermEntry("scam", "scam", "scam", TermMode.Word), new TermEntry("free, money", "spam", "t2", TermMode.Substring)], withHeader.Entries);
        Assert.Equal(new TermEntry("scam", "scam", "t1", TermMode.Word), Assert.Single(without.Entries));
    }

    [Fact]
    public void Every_bad_row_is_reported_with_its_line_and_the_bank_is_refused()
    {
        string csv = string.Join('\n',
            "pattern,category,id,mode",
            "scam,scam",                                    // 2 fine
            "onlypattern",                                  // 3
            "x,scam,id,fuzzy",                              // 4
            "y,,id",                                        // 5
            "z,cat\u001B[31m,id",                          // 6 control character in category
            "w,cat,id\u202E",                               // 7 format character in id
            "v,cat," + new string('i', 1025),               // 8 id too long
            "u," + new string('c', 257),                    // 9 category too long
            "\"unterminated,cat",                           // 10
            "...,cat",                                      // 11 no letter
            new string('p', 513) + ",cat");                 // 12

        var e = Assert.Throws<TextBankException>(() => Banks.Terms(csv));

        Assert.Equal([3, 4, 5, 6, 7, 8, 9, 10, 11, 12], e.Errors.Select(r => r.Line));
        Assert.Contains("mode must be word, substring or regex", e.Errors[1].Message);
        Assert.All(e.Errors, r => Assert.True(Contracts.SafeText.IsClean(r.Message), r.Message));
    }

    [Theory]
    [InlineData("(a+)+$")]
    [InlineData("(a*)*b")]
    [InlineData("(\\w+\\s?)*$")]
    [InlineData("(x+x+)+y")]
    [InlineData("((ab)*c)+")]
    [InlineData("(a{2,})*")]
    [InlineData("(a|aa)\\1")]      // backreference
    [InlineData("(?=a)a")]         // lookahead
    [InlineData("(?<=a)b")]        // lookbehind
    [InlineData("(?>a+)b")]        // atomic group
    [InlineData("([a-z")]          // invalid
    public void A_regex_that_needs_or_could_cause_backtracking_is_refused_at_load(string pattern)
    {
        var e = Assert.Throws<TextBankException>(() => Banks.Terms($"\"{pattern.Replace("\"", "\"\"")}\",scam,r,regex\n"));

        Assert.Equal(1, Assert.Single(e.Errors).Line);
    }

    [Theory]
    [InlineData("sc[a4]m+")]
    [InlineData("(free|easy) money")]
    [InlineData("(ab)+c")]
    [InlineData("(a{2,3})+")]
    [InlineData("[(]a+[)]+")]
    [InlineData("\\(a+\\)+")]
    public void Linear_regexes_load(string pattern)
    {
        var bank = Banks.Terms($"\"{pattern}\",scam,r,regex\n");

        Assert.Equal(TermMode.Regex, Assert.Single(bank.Entries).Mode);
    }

    [Fact]
    public void A_regex_on_a_pathological_text_finishes_in_linear_time()
    {
        // (a|a)*b style ambiguity is fine for the non-backtracking engine.
        var bank = Banks.Terms("\"(a|aa)*c\",x,r,regex\n");
        var text = new string('a', 200_000);

        Assert.Empty(Banks.Match(text, bank));
    }
}
