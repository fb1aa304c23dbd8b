namespace Moderation.Streams.Contracts;

/// <summary>
/// The fail-closed rule for media screened only in part: a video longer than its frame budget covers at the minimum
/// density, a stretch or a track ffmpeg could not decode, animation frames past the decode limits. What was seen
/// decides as usual, except that such media is never <c>allow</c>ed: an allow becomes <c>review</c>, and every action
/// carries the reason <c>{"source":"fail-closed","code":"partially-screened","message":…}</c> saying what was not
/// covered (a takedown stays a takedown). The video and the animated-image paths both decide through here.
/// </summary>
public static class PartialScreening
{
    public const string Code = "partially-screened";

    /// <summary>Longest message kept (it may quote ffmpeg's last error line).</summary>
    public const int MaxMessageChars = 300;

    /// <param name="notCovered">What was not screened, or null when everything was.</param>
    public static (string Action, IReadOnlyList<DecisionReason> Reasons) Apply(string action, IReadOnlyList<DecisionReason> reasons, string? notCovered)
    {
        ArgumentNullException.ThrowIfNull(reasons);
        if (notCovered is null) return (action, reasons);
        var reason = new DecisionReason { Source = "fail-closed", Code = Code, Message = SafeText.Escape(notCovered, MaxMessageChars) };
        return (Actions.AtLeastReview(action), [.. reasons, reason]);
    }
}
