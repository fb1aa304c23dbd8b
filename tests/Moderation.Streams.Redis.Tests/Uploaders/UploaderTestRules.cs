using Moderation.Streams.Contracts;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>The policy rules and the picture the uploader-state tests count with.</summary>
internal static class UploaderTestRules
{
    public static readonly PolicyUploaders Rules = new()
    {
        Strikes = new PolicyCountRule { Window = "7d", ReviewAt = 3 },
        Velocity = new PolicyCountRule { Window = "1m", ReviewAt = 30 },
        Campaigns = new PolicyCampaignRule { Window = "1h", DistinctUploaders = 5, MaxDistance = 31 },
    };

    public const string Picture = "0123456789abcdeffedcba98765432100f1e2d3c4b5a69788877665544332211";
}
