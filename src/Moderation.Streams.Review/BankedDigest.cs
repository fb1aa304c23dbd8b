namespace Moderation.Streams.Review;

/// <summary>The exact file digest a verdict banked for media that has no PDQ hash (<c>sha256</c> or <c>md5</c>, hex).</summary>
public sealed record BankedDigest(string Kind, string Hex);
