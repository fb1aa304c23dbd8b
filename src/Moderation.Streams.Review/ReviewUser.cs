namespace Moderation.Streams.Review;

/// <summary>One account of the users file.</summary>
public sealed record ReviewUser(string Name, string Role, string PasswordHash);
