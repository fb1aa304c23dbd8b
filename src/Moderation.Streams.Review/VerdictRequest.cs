namespace Moderation.Streams.Review;

/// <summary>The body of <c>POST /api/items/{content_id}/verdict</c>: <c>{"verdict":"takedown|allow","bank":NAME|null,"note":…}</c>.</summary>
public sealed record VerdictRequest(string? Verdict, string? Bank, string? Note);
