using System.Net;
using System.Net.Sockets;

namespace Moderation.Streams.Kafka.Tests;

internal static class BrokerPorts
{
    /// <summary>A loopback port that was free a moment ago (the kernel picks it; the listener is closed again).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
