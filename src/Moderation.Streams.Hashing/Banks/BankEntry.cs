namespace Moderation.Streams.Hashing.Banks;

/// <summary>One known-violating hash of a bank, with the metadata that travels with it.</summary>
/// <param name="Bank">The bank's name (see <see cref="BankNames"/>).</param>
/// <param name="Id">Unique within the bank; an import with the same id replaces the entry.</param>
/// <param name="Hash">The PDQ hash.</param>
/// <param name="Quality">Its PDQ quality (0..100); entries under the matcher's minimum are kept but never matched.</param>
/// <param name="Label">Free text, e.g. the category on the sharing list.</param>
/// <param name="Source">Where the hash came from (a file name, a list's name).</param>
/// <param name="AddedAt">When it was added.</param>
public sealed record BankEntry(string Bank, string Id, PdqHash Hash, int Quality, string? Label, string? Source, DateTimeOffset AddedAt);
