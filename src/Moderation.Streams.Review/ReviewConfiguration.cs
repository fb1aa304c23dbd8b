using Microsoft.Extensions.Configuration;

namespace Moderation.Streams.Review;

/// <summary>The configuration sources of the review verbs, as the worker's: appsettings.json next to the executable,
/// the environment (<c>Review__Port</c>…), then a verb's flags.</summary>
public static class ReviewConfiguration
{
    public static IConfiguration Load(IEnumerable<KeyValuePair<string, string?>>? overrides = null) => new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables()
        .AddInMemoryCollection(overrides ?? [])
        .Build();
}
