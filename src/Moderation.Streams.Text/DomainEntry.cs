namespace Moderation.Streams.Text;

/// <summary>One row of a domains bank; <see cref="Domain"/> is canonical (lower case, punycode).</summary>
public sealed record DomainEntry(string Domain, string Category, string Id);
