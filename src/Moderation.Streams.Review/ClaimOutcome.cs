namespace Moderation.Streams.Review;

/// <summary>What a claim, release or verdict found: done, or why not (and who holds the item).</summary>
public enum ClaimStatus { Ok, NotFound, HeldByOther, NotHeld, AlreadyDecided }

/// <param name="Holder">The reviewer holding the claim, when one does.</param>
public sealed record ClaimOutcome(ClaimStatus Status, string? Holder = null)
{
    public static ClaimOutcome Ok(string holder) => new(ClaimStatus.Ok, holder);
}
