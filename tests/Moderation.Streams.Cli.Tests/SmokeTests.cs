namespace Moderation.Streams.Cli.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
