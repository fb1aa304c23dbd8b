using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public class CsvLineTests
{
    [Theory]
    [InlineData("a,b,c", new[] { "a", "b", "c" })]
    [InlineData("", new[] { "" })]
    [InlineData(",", new[] { "", "" })]
    [InlineData("a,,c,", new[] { "a", "", "c", "" })]
    [InlineData("\"a,b\",c", new[] { "a,b", "c" })]
    [InlineData("\"say \"\"hi\"\"\",x", new[] { "say \"hi\"", "x" })]
    [InlineData("\"\"", new[] { "" })]
    [InlineData("\"'=cmd\"", new[] { "'=cmd" })]
    [InlineData("\"quoted\"tail,next", new[] { "quotedtail", "next" })] // text after the closing quote is kept
    [InlineData("in\"side,x", new[] { "in\"side", "x" })]                // a quote inside an unquoted field is a character
    public void Fields_follow_rfc_4180_quoting(string line, string[] expected)
    {
        var fields = new List<string> { "left over from an earlier line" };
        Assert.True(CsvLine.TrySplit(line, fields));
        Assert.Equal(expected, fields);
    }

    [Theory]
    [InlineData("\"open")]
    [InlineData("a,\"open, still open")]
    [InlineData("\"ends with an escaped quote\"\"")]
    public void An_unterminated_quote_is_refused(string line) => Assert.False(CsvLine.TrySplit(line, []));
}
