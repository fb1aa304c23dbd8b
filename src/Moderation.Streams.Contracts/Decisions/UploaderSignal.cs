namespace Moderation.Streams.Contracts;

/// <summary>What the shared uploader and campaign counters said about one upload (<see cref="Decider.ForUploader"/>).</summary>
public sealed record UploaderSignal
{
    /// <summary>No rule of the policy applies (no <c>uploaders</c> section, or an upload without <c>uploader_id</c> and no
    /// campaign rule): nothing was counted.</summary>
    public static UploaderSignal NotCounted { get; } = new();

    /// <summary>The counters could not be read or written (the store is down).</summary>
    public static UploaderSignal Unavailable { get; } = new() { IsUnavailable = true };

    public bool IsUnavailable { get; init; }

    /// <summary>Takedowns of the uploader's items in the strikes window, before this upload; null = not counted.</summary>
    public int? Strikes { get; init; }

    /// <summary>The uploader's uploads in the velocity window, this one included; null = not counted.</summary>
    public int? Velocity { get; init; }

    /// <summary>Distinct uploaders of this picture in the campaign window, this upload's included; null = not counted.</summary>
    public int? CampaignUploaders { get; init; }
}
