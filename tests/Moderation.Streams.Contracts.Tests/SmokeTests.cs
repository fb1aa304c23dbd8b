namespace Moderation.Streams.Contracts.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
