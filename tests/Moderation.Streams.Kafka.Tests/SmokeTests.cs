namespace Moderation.Streams.Kafka.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
