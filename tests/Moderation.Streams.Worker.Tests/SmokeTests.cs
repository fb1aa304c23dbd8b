namespace Moderation.Streams.Worker.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
