using Moderation.Streams.Contracts;

namespace Moderation.Streams.Worker;

/// <summary>
/// Screens a text item (a comment, a bio, a post: <c>media_type: "text"</c>): its text against the text banks, then
/// <see cref="Decider.Decide"/>. There is no media, no model and no cache; with no text banks configured the item cannot
/// be screened and goes to review.
/// </summary>
public sealed class TextScreener(ScreenerServices services)
{
    public async Task<Screened> ScreenAsync(string contentId, string text, Policy policy, SourceInfo source, long started, CancellationToken ct)
    {
        var signals = await services.WithTextAsync(new UploadSignals { ContentId = contentId, TextOnly = true, BanksFailClosed = services.BanksFailClosed }, text, TextHit.TextField, ct)
            .ConfigureAwait(false);
        Contracts.Verdict verdict;
        using (Stages.Start("policy")) verdict = Decider.Decide(policy, signals);
        return new Screened(services.ToEvent(verdict, contentId, policy, null, source, started));
    }
}
