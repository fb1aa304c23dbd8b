namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// A store of banks that a worker holds whole in memory, one loaded form (<typeparamref name="TBank"/>) per bank, kept in
/// step by <see cref="BankCopySync{TBank, TCopy}"/>: the text banks and the exact file-hash banks.
/// </summary>
/// <typeparam name="TBank">A bank as it is matched against (a term bank, a list of digests…).</typeparam>
public interface IBankCopySource<TBank> where TBank : class
{
    /// <summary>Calls <paramref name="changed"/> for every change message (on any thread, at any time until
    /// <see cref="UnsubscribeAsync"/>).</summary>
    Task SubscribeAsync(Action changed);

    Task UnsubscribeAsync();

    /// <summary>The store's epoch and the version of every bank it lists, read before any bank is.</summary>
    Task<BankStoreState> GetStateAsync();

    /// <summary>A bank's version (0 when its version key is gone: not a deletion, which keeps counting).</summary>
    Task<long> GetVersionAsync(string bank);

    /// <summary>Loads <paramref name="banks"/> as they are now. A bank no longer in the store is left out of the result.
    /// Throws when one of them cannot be loaded.</summary>
    /// <param name="held">The banks of the copy in memory, to reuse what loading them cost (a meaning bank's embeddings).</param>
    Task<IReadOnlyDictionary<string, TBank>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, TBank> held, CancellationToken ct);

    /// <summary>When the bank's last change was written (null: not recorded), for the time from a change to its being
    /// matched (<c>moderation.bank.change.delay</c>).</summary>
    Task<DateTimeOffset?> GetChangedAtAsync(string bank);
}

/// <summary>
/// A store whose banks record what each change touched (delta records), so that a copy a few versions behind is brought
/// up to date by reading only the entries the changes name and applying them to the bank it holds, not by reading the
/// bank whole.
/// </summary>
public interface IBankDeltaSource<TBank> : IBankCopySource<TBank> where TBank : class
{
    /// <summary>The changes after version <paramref name="from"/> (that of <paramref name="held"/>) up to
    /// <paramref name="to"/>; null when the bank must be read whole instead (records expired or never written, a change
    /// that emptied the bank, too many versions, or changes too large for <paramref name="held"/> to take).</summary>
    Task<BankChanges?> ReadChangesAsync(string bank, TBank held, long from, long to);

    /// <summary><paramref name="held"/> with <paramref name="changes"/> applied: the entries they name read as they are
    /// now. <paramref name="held"/> itself is not changed (readers may be using it). Null when reading the bank whole is
    /// the cheaper way (a change touching most of it).</summary>
    Task<TBank?> ApplyAsync(string bank, TBank held, BankChanges changes, CancellationToken ct);
}
