namespace Moderation.Streams.Kafka.Tests;

/// <summary>Tests against a real Kafka in a container run wherever a Docker engine is reachable and are skipped, saying
/// why, where none is.</summary>
internal static class DockerEngine
{
    /// <param name="what">What the test proves, for the skip reason ("exactly-once", "static membership").</param>
    public static void Require(string what)
    {
        bool socket = File.Exists("/var/run/docker.sock");
        bool host = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST"));
        if (!socket && !host)
            Assert.Skip($"No Docker engine here (no /var/run/docker.sock, no DOCKER_HOST): {what} is proven against a real Kafka only where Docker runs.");
    }
}
