using Moderation.Streams.Embedded;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests.Servers;

/// <summary>A running Redis-protocol server and one multiplexer connected to it, shared by a test class.</summary>
public interface IStoreFixture
{
    string Name { get; }

    IConnectionMultiplexer Redis { get; }
}

public sealed class RedisServerFixture : IStoreFixture, IAsyncLifetime
{
    private RedisServerProcess? _server;
    private IConnectionMultiplexer? _redis;

    public string Name => "redis-server";

    public IConnectionMultiplexer Redis => _redis ?? throw new InvalidOperationException("Not initialised.");

    public async ValueTask InitializeAsync()
    {
        _server = await RedisServerProcess.StartAsync(TestContext.Current.CancellationToken);
        _redis = await RedisConnector.ConnectAsync(_server.Configuration);
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

public sealed class GarnetServerFixture : IStoreFixture, IAsyncLifetime
{
    private EmbeddedRedisServer? _server;
    private IConnectionMultiplexer? _redis;

    public string Name => "garnet";

    public IConnectionMultiplexer Redis => _redis ?? throw new InvalidOperationException("Not initialised.");

    public async ValueTask InitializeAsync()
    {
        _server = EmbeddedRedisServer.Start();
        _redis = await RedisConnector.ConnectAsync(_server.Configuration);
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
