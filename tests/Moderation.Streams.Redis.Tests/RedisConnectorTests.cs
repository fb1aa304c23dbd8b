using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests;

public sealed class RedisConnectorTests
{
    [Fact]
    public void Connections_never_abort_on_a_down_store_and_fail_fast_while_disconnected()
    {
        var options = RedisConnector.CreateOptions("127.0.0.1:6390");

        Assert.False(options.AbortOnConnectFail);
        Assert.Same(BacklogPolicy.FailFast, options.BacklogPolicy);
        Assert.Equal(2000, options.ConnectTimeout);
        Assert.IsType<ExponentialRetry>(options.ReconnectRetryPolicy);
        Assert.Equal("127.0.0.1:6390", Assert.Single(options.EndPoints).ToString());
    }

    [Fact]
    public void Settings_in_the_callers_configuration_string_override_the_defaults()
    {
        var options = RedisConnector.CreateOptions("cache-0:6379,cache-1:6379,connectTimeout=500,password=s3cret");

        Assert.Equal(500, options.ConnectTimeout);
        Assert.Equal("s3cret", options.Password);
        Assert.Equal(2, options.EndPoints.Count);
    }
}
