using Microsoft.AspNetCore.Http;

namespace Moderation.Streams.Review;

/// <summary>The address failures are counted under: the connection's remote address (forwarded headers are not trusted
/// unless the host is configured for them).</summary>
public static class ClientAddress
{
    public static string Of(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
