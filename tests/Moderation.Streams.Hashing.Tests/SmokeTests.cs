namespace Moderation.Streams.Hashing.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
