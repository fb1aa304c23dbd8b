using System.CommandLine;
using System.Text;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.DigestBanks;
using StackExchange.Redis;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation bank import|export|list|match|remove|snapshot|quarantined|release</c>: hash banks in Redis. The formats are
/// <see cref="BankCsv"/>'s; storage and matching are <see cref="RedisBankStore"/> and <see cref="BankIndex"/>,
/// tested in their own projects. Workers pick up every change within seconds (change channel + periodic check).
/// </summary>
internal static class BankCommand
{
    public static Command Create()
    {
        var command = new Command("bank", "Manage banks in Redis: hash banks (known-violating PDQ hashes) and, with --kind md5|sha256, exact file-hash banks, with --kind terms|domains|texts, text banks.");
        command.Subcommands.Add(Import());
        command.Subcommands.Add(Export());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Match());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(Snapshot());
        command.Subcommands.Add(BankQuarantineVerbs.Quarantined(RedisOption()));
        command.Subcommands.Add(BankQuarantineVerbs.Release(RedisOption(), BankOption()));
        return command;
    }

    private static Option<string> BankOption(bool required = true) => new("--bank")
    {
        Description = "Bank name (1-64 of A-Z a-z 0-9 . _ -)",
        Required = required,
    };

    private static Option<string> KindOption()
    {
        var option = new Option<string>("--kind")
        {
            Description = "hashes (default: PDQ hash banks), md5 or sha256 (exact file-hash banks: digest[,id[,label[,source[,added_at]]]], matched on the media bytes before decoding), " +
                          "terms (pattern,category[,id[,mode]]), domains (domain,category[,id]) or texts (text,category[,id], matched by meaning)",
            DefaultValueFactory = _ => TextBankVerbs.Hashes,
        };
        option.AcceptOnlyFromAmong([.. TextBankVerbs.Kinds, .. DigestKinds.All]);
        return option;
    }

    private static Option<string?> RedisOption()
    {
        var option = CommonOptions.Redis();
        option.Description = "StackExchange.Redis configuration string (config Redis:Configuration, env Redis__Configuration); " +
                             "TLS, user and password file from Redis:Security, as the worker reads them";
        return option;
    }

    private static Command Import()
    {
        var redis = RedisOption();
        var bank = BankOption();
        var file = new Argument<FileInfo>("file") { Description = "CSV rows hash,quality[,id[,label[,source[,added_at]]]], an HMA bank export (header signal_type,signal,...: its pdq rows) " +
                          "or a ThreatExchange CSV (a header naming the hash column, e.g. hash,quality,id,labels; or its headerless hash,id,added_on,tags dump), " +
                          $"detected from the first row; rows without a quality get {BankCsv.MissingQuality}. '-' reads standard input. The hash verb's output imports as is." };
        var replace = new Option<bool>("--replace") { Description = "Empty the bank first (default: add, replacing entries with the same id)" };
        var source = new Option<string?>("--source") { Description = "Source recorded for rows without one (default: the file name)" };
        var kind = KindOption();
        var threshold = new Option<float?>("--threshold")
        {
            Description = $"--kind texts only: the least cosine similarity that matches, above 0 and at most 1 (default: the bank's, else {Text.MeaningBank.DefaultThreshold})",
        };
        var progress = new Option<string>("--progress")
        {
            Description = "Hash and digest banks: progress on stderr: auto (a bar on a terminal, a line every 10 s or 1,000,000 rows otherwise), bar, lines or none",
            DefaultValueFactory = _ => "auto",
        };
        progress.AcceptOnlyFromAmong(StreamingBankImport.ProgressModes);
        var chunkRows = new Option<int>("--chunk-rows")
        {
            Description = $"Hash and digest banks: entries written per chunk (1-{StreamingBankImport.MaxChunkRows:N0}); the file is read twice, " +
                          "first only to check every row (a refused row fails the import with nothing written), then to write it chunk by chunk, " +
                          "so memory stays flat for a file of millions of rows",
            DefaultValueFactory = _ => StreamingBankImport.DefaultChunkRows,
        };
        chunkRows.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > StreamingBankImport.MaxChunkRows)
                r.AddError($"--chunk-rows must be 1-{StreamingBankImport.MaxChunkRows}");
        });
        var command = new Command("import", "Import hashes (or, with --kind, digests, terms, domains or texts) from CSV into a bank; prints the bank's new version. " +
                                            "Hash and digest files are streamed: every row is checked before anything is written, then written in chunks of --chunk-rows.")
        {
            redis, bank, file, replace, source, kind, threshold, progress, chunkRows,
        };
        command.SetAction(async (parse, ct) => await WithStore(parse, redis, "import", async store =>
        {
            var name = parse.GetValue(bank)!;
            var path = parse.GetValue(file)!;
            if (parse.GetValue(kind) is { } digestKind && DigestKinds.IsKnown(digestKind))
            {
                if (parse.GetValue(threshold) is not null)
                {
                    Console.Error.WriteLine("moderation bank import: --threshold is for --kind texts");
                    return ExitCodes.Usage;
                }
                return await DigestBankVerbs.ImportAsync(store, digestKind, name, path, parse.GetValue(replace), parse.GetValue(source),
                    parse.GetValue(progress)!, parse.GetValue(chunkRows));
            }
            if (parse.GetValue(kind) is { } textKind && textKind != TextBankVerbs.Hashes)
            {
                // Text banks are read whole (small by nature): the streaming options would silently do nothing.
                if (parse.GetResult(chunkRows) is { Implicit: false } || parse.GetResult(progress) is { Implicit: false })
                {
                    Console.Error.WriteLine("moderation bank import: --chunk-rows and --progress are for hash and digest banks");
                    return ExitCodes.Usage;
                }
                return await TextBankVerbs.ImportAsync(store, textKind, name, path, parse.GetValue(replace), parse.GetValue(threshold));
            }
            if (parse.GetValue(threshold) is not null)
            {
                Console.Error.WriteLine("moderation bank import: --threshold is for --kind texts");
                return ExitCodes.Usage;
            }
            var (code, read) = await StreamingBankImport.RunAsync(path, parse.GetValue(progress)!, parse.GetValue(chunkRows),
                reader => BankCsv.PdqRows(reader, parse.GetValue(source) ?? (path.Name == "-" ? "stdin" : path.Name), DateTimeOffset.UtcNow),
                row => BankCsv.Entry(name, row),
                (chunk, first) => store.ImportAsync(name, chunk, first && parse.GetValue(replace)),
                row => row.Quality < BankMatchOptions.Default.MinQuality);
            if (read is null) return code;
            Console.Out.WriteLine($"imported {read.Rows} hashes into {name} (version {read.Version})" +
                (read.Layout is { Format: not BankCsvLayout.Moderation } layout ? $" from {Describe(layout)}" : "") +
                (read.SkippedOtherSignalTypes > 0 ? $"; skipped {read.SkippedOtherSignalTypes} rows of other signal types" : "") +
                (read.Layout is { Ignored.Count: > 0 } l ? $"; ignored columns: {string.Join(",", l.Ignored)}" : "") +
                (read.LowQuality > 0 ? $"; {read.LowQuality} have quality < {BankMatchOptions.Default.MinQuality} and never match" : ""));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The import summary's name for a file's layout.</summary>
    internal static string Describe(BankCsvLayout layout) => layout switch
    {
        { Format: BankCsvLayout.Hma } => "an HMA export",
        { Format: BankCsvLayout.ThreatExchange, HasHeader: true } => "a ThreatExchange CSV",
        { Format: BankCsvLayout.ThreatExchange } => "a ThreatExchange dump (hash,id,added_on,tags)",
        _ => "hash,quality rows",
    };

    private static Command Export()
    {
        var redis = RedisOption();
        var bank = BankOption();
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file (default: standard output)" };
        var kind = KindOption();
        var command = new Command("export", "Export a bank as CSV (hash,quality,id,label,source,added_at; text banks as imported), ordered by id.") { redis, bank, output, kind };
        command.SetAction(async (parse, ct) => await WithStore(parse, redis, "export", async store =>
        {
            if (parse.GetValue(kind) is { } digestKind && DigestKinds.IsKnown(digestKind))
                return await DigestBankVerbs.ExportAsync(store, digestKind, BankNames.Validate(parse.GetValue(bank)), parse.GetValue(output));
            if (parse.GetValue(kind) != TextBankVerbs.Hashes) return await TextBankVerbs.ExportAsync(store, parse.GetValue(bank)!, parse.GetValue(output));
            var name = BankNames.Validate(parse.GetValue(bank));
            if (!await store.ExistsAsync(name))
            {
                Console.Error.WriteLine($"moderation bank export: no bank {name} (see 'moderation bank list')");
                return ExitCodes.Failure;
            }
            var (_, entries) = await store.LoadAsync(name, ct);
            entries.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
            var path = parse.GetValue(output);
            using var writer = path is null ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) : new StreamWriter(path.FullName, false, new UTF8Encoding(false));
            BankCsv.Write(writer, entries);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command List()
    {
        var redis = RedisOption();
        var json = new Option<bool>("--json") { Description = "One JSON object per bank" };
        var kind = KindOption();
        var command = new Command("list", "List banks of one kind: name, entries, version.") { redis, json, kind };
        command.SetAction(async (parse, ct) => await WithStore(parse, redis, "list", async store =>
        {
            if (parse.GetValue(kind) is { } digestKind && DigestKinds.IsKnown(digestKind)) return await DigestBankVerbs.ListAsync(store, digestKind, parse.GetValue(json));
            if (parse.GetValue(kind) is { } textKind && textKind != TextBankVerbs.Hashes) return await TextBankVerbs.ListAsync(store, textKind, parse.GetValue(json));
            foreach (var info in await store.ListAsync())
            {
                Console.Out.WriteLine(parse.GetValue(json)
                    ? JsonSerializer.Serialize(new { name = info.Name, count = info.Count, version = info.Version })
                    : $"{info.Name}\t{info.Count}\tversion {info.Version}");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Match()
    {
        var redis = RedisOption();
        var bank = new Option<string[]>("--bank") { Description = "Only these banks, PDQ or exact file-hash (repeatable; default: all)", AllowMultipleArgumentsPerToken = false };
        var files = new Argument<string[]>("files") { Description = "Image files", Arity = ArgumentArity.OneOrMore };
        var maxDistance = new Option<int>("--max-distance") { Description = "Largest Hamming distance that matches", DefaultValueFactory = _ => BankMatchOptions.Default.MaxDistance };
        var minQuality = new Option<int>("--min-quality") { Description = "Hashes under this quality never match", DefaultValueFactory = _ => BankMatchOptions.Default.MinQuality };
        var dihedral = new Option<bool>("--dihedral")
        {
            Description = "Also match rotated and mirrored copies, as the worker does (--dihedral false turns it off)",
            DefaultValueFactory = _ => BankMatchOptions.Default.Dihedral,
        };
        var upright = new Option<bool>("--upright")
        {
            Description = "Hash each picture upright, as a viewer shows it and the worker hashes it (its EXIF orientation applied). " +
                          "--upright false hashes the stored pixels, as the hash verb and Meta's reference do.",
            DefaultValueFactory = _ => true,
        };
        var command = new Command("match", "Hash each file and print one JSON line: {\"path\",\"hash\",\"quality\",\"matches\":[{\"bank\",\"id\",\"distance\"}]} (each match also with its label, source and added_at). " +
                                           "The file's MD5/SHA-256 is looked up in the exact file-hash banks too: those matches come first, with \"distance\":0 and \"digest\":\"md5|sha256\"; " +
                                           "a listed file that cannot be decoded still gets its line (\"hash\":null) beside the error.")
        {
            redis, bank, files, maxDistance, minQuality, dihedral, upright,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new BankMatchOptions { MaxDistance = parse.GetValue(maxDistance), MinQuality = parse.GetValue(minQuality), Dihedral = parse.GetValue(dihedral) };
            try
            {
                options.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                Console.Error.WriteLine($"moderation bank match: {e.Message}");
                return ExitCodes.Usage;
            }
            return await WithStore(parse, redis, "match", async store =>
            {
                var only = parse.GetValue(bank) is { Length: > 0 } names ? names.ToHashSet(StringComparer.Ordinal) : null;
                var entries = new List<BankEntry>();
                foreach (var info in await store.ListAsync())
                    if (only is null || only.Contains(info.Name)) entries.AddRange((await store.LoadAsync(info.Name, ct)).Entries);
                var index = new BankIndex(entries, options);
                // Exact file-hash banks too, as the worker looks the bytes up before decoding them.
                var (digests, _) = await new RedisDigestBankStore(store.Connection).LoadAllAsync();
                var hasher = new PdqHasher();
                bool failed = false;
                using var stdout = Console.OpenStandardOutput();
                var limits = DecodeLimits.Default;
                foreach (var path in parse.GetValue(files) ?? [])
                {
                    PdqResult? pdq = null;
                    List<DigestEntry> exact = [];
                    try
                    {
                        var bytes = ImageDecoder.ReadFile(path, limits.MaxBytes);
                        exact = [.. digests.Match(bytes).Where(e => only is null || only.Contains(e.Bank))];
                        var image = ImageDecoder.Decode(bytes, limits, parse.GetValue(upright) ? ImageOrientation.Upright : ImageOrientation.AsStored);
                        pdq = hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
                    }
                    catch (Exception e) when (e is ModerationException or IOException or UnauthorizedAccessException)
                    {
                        Console.Error.WriteLine($"moderation bank match: {path}: {(e as ModerationException)?.Code ?? ErrorCodes.MediaUnavailable}: {e.Message}");
                        failed = true;
                        // A known file is known without its pixels: the worker takes it down undecoded too.
                        if (exact.Count > 0) WriteLine(stdout, path, null, exact, []);
                        continue;
                    }
                    var matches = index.FindAll(pdq.Value.Hash, pdq.Value.Quality, options.Dihedral ? hasher.DihedralOfLast() : null);
                    WriteLine(stdout, path, pdq, exact, matches);
                }
                return failed ? ExitCodes.Failure : ExitCodes.Ok;
            });
        });
        return command;
    }

    /// <summary>One file's line: its PDQ hash (null when it could not be decoded) and its matches, exact file-hash
    /// matches first (distance 0, with <c>"digest":"md5|sha256"</c> as the worker's reason names it).</summary>
    private static void WriteLine(Stream stdout, string path, PdqResult? pdq, List<DigestEntry> exact, List<BankMatch> matches)
    {
        using (var json = new Utf8JsonWriter(stdout))
        {
            json.WriteStartObject();
            json.WriteString("path", path);
            if (pdq is { } p)
            {
                json.WriteString("hash", p.Hash.ToString());
                json.WriteNumber("quality", p.Quality);
            }
            else
            {
                json.WriteNull("hash");
                json.WriteNull("quality");
            }
            json.WriteStartArray("matches");
            foreach (var e in exact)
            {
                json.WriteStartObject();
                json.WriteString("bank", e.Bank);
                json.WriteString("id", SafeText.Escape(e.Id, TextLimits.BankIdChars));
                json.WriteNumber("distance", 0);
                json.WriteString("digest", e.Kind);
                if (e.Label is { } label) json.WriteString("label", SafeText.Escape(label, TextLimits.BankLabelChars));
                if (e.Source is { } entrySource) json.WriteString("source", SafeText.Escape(entrySource, TextLimits.BankLabelChars));
                json.WriteString("added_at", BankCsv.FormatTimestamp(e.AddedAt));
                json.WriteEndObject();
            }
            foreach (var m in matches)
            {
                json.WriteStartObject();
                json.WriteString("bank", m.Bank);
                // Entries stored by older versions may be huge or dirty: escaped and cut like in decisions.
                json.WriteString("id", SafeText.Escape(m.Id, TextLimits.BankIdChars));
                json.WriteNumber("distance", m.Distance);
                if (m.Transform != PdqTransform.Original) json.WriteString("transform", m.Transform.ToString());
                if (m.Entry.Label is { } label) json.WriteString("label", SafeText.Escape(label, TextLimits.BankLabelChars));
                // Provenance, as the worker's bank reasons carry it.
                if (m.Entry.Source is { } entrySource) json.WriteString("source", SafeText.Escape(entrySource, TextLimits.BankLabelChars));
                json.WriteString("added_at", BankCsv.FormatTimestamp(m.Entry.AddedAt));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.Write("\n"u8);
        stdout.Flush();
    }

    private static Command Remove()
    {
        var redis = RedisOption();
        var bank = BankOption();
        var ids = new Argument<string[]>("ids") { Description = "Entry ids to remove", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Delete the whole bank" };
        var kind = KindOption();
        var command = new Command("remove", "Remove entries by id, or a whole bank with --all.") { redis, bank, ids, all, kind };
        command.SetAction(async (parse, ct) =>
        {
            var idList = parse.GetValue(ids) ?? [];
            if (parse.GetValue(all) == idList.Length > 0)
            {
                Console.Error.WriteLine("moderation bank remove: give entry ids or --all (not both)");
                return ExitCodes.Usage;
            }
            return await WithStore(parse, redis, "remove", async store =>
            {
                if (parse.GetValue(kind) is { } digestKind && DigestKinds.IsKnown(digestKind))
                    return await DigestBankVerbs.RemoveAsync(store, digestKind, BankNames.Validate(parse.GetValue(bank)), idList, parse.GetValue(all));
                if (parse.GetValue(kind) != TextBankVerbs.Hashes) return await TextBankVerbs.RemoveAsync(store, parse.GetValue(bank)!, idList, parse.GetValue(all));
                var name = BankNames.Validate(parse.GetValue(bank));
                if (parse.GetValue(all))
                {
                    bool existed = await store.DeleteBankAsync(name);
                    Console.Out.WriteLine(existed ? $"deleted bank {name}" : $"no bank {name}");
                    return existed ? ExitCodes.Ok : ExitCodes.Failure;
                }
                if (!await store.ExistsAsync(name))
                {
                    Console.Error.WriteLine($"moderation bank remove: no bank {name} (see 'moderation bank list')");
                    return ExitCodes.Failure;
                }
                return ReportRemoved(name, await store.RemoveAsync(name, idList), idList);
            });
        });
        return command;
    }

    private static Command Snapshot()
    {
        var redis = RedisOption();
        var bank = BankOption();
        var show = new Option<bool>("--show") { Description = "Only print the bank's snapshot (version, entries, blocks, ids changed since), or exit 1 when it has none" };
        var drop = new Option<bool>("--drop") { Description = "Drop the bank's snapshot (workers scan the bank whole until a new one is written)" };
        var command = new Command("snapshot", "Write a snapshot of a hash bank now: its entries as binary blocks that a worker starting cold reads instead of scanning " +
                                              "every entry (workers also write one by themselves after scanning a big bank; see Banks:Snapshots).") { redis, bank, show, drop };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(show) && parse.GetValue(drop))
            {
                Console.Error.WriteLine("moderation bank snapshot: give --show or --drop, not both");
                return ExitCodes.Usage;
            }
            return await WithStore(parse, redis, "snapshot", async store =>
            {
                var name = BankNames.Validate(parse.GetValue(bank));
                if (!await store.ExistsAsync(name))
                {
                    Console.Error.WriteLine($"moderation bank snapshot: no bank {name} (see 'moderation bank list')");
                    return ExitCodes.Failure;
                }
                if (parse.GetValue(drop))
                {
                    Console.Out.WriteLine(await store.DeleteSnapshotAsync(name) ? $"dropped the snapshot of {name}" : $"{name} has no snapshot");
                    return ExitCodes.Ok;
                }
                if (parse.GetValue(show))
                {
                    if (await store.GetSnapshotInfoAsync(name) is not { } info)
                    {
                        Console.Out.WriteLine($"{name} has no snapshot");
                        return ExitCodes.Failure;
                    }
                    Console.Out.WriteLine(Describe(name, info));
                    return ExitCodes.Ok;
                }
                var clock = System.Diagnostics.Stopwatch.StartNew();
                bool locked;
                BankSnapshotInfo? written;
                try
                {
                    (locked, written) = await store.WriteSnapshotLockedAsync(name, $"bank-snapshot:{Environment.MachineName}:{Environment.ProcessId}", ct);
                }
                catch (InvalidDataException e)
                {
                    Console.Error.WriteLine($"moderation bank snapshot: {e.Message}");
                    return ExitCodes.Failure;
                }
                if (!locked)
                {
                    Console.Error.WriteLine($"moderation bank snapshot: another writer holds {store.SnapshotLockKey(name)} (a worker writing one now?); try again later");
                    return ExitCodes.Failure;
                }
                if (written is null)
                {
                    Console.Error.WriteLine($"moderation bank snapshot: {name} was emptied or changed more than {RedisBankStore.MaxDeltaSpan} times while it was read; nothing published, try again");
                    return ExitCodes.Failure;
                }
                Console.Out.WriteLine($"{Describe(name, written)}; written in {clock.Elapsed.TotalSeconds:0.0} s");
                return ExitCodes.Ok;
            });
        });
        return command;
    }

    private static string Describe(string bank, BankSnapshotInfo info) => FormattableString.Invariant(
        $"snapshot of {bank}: {info.Entries} entries as of version {info.Version}, {info.Blocks} blocks, {info.Bytes / 1048576.0:0.0} MiB, written {info.WrittenAt:yyyy-MM-ddTHH:mm:ssZ}; {info.Changed} ids changed since");

    /// <summary>What <c>bank remove ID…</c> says, for every kind of bank: how many went, and exit 1 when some ids were not there.</summary>
    internal static int ReportRemoved(string bank, long removed, IReadOnlyCollection<string> ids)
    {
        Console.Out.WriteLine($"removed {removed} of {ids.Count} from {bank}");
        int distinct = ids.Distinct().Count();
        if (removed >= distinct) return ExitCodes.Ok;
        Console.Error.WriteLine($"moderation bank remove: {distinct - removed} of the ids are not in {bank}");
        return ExitCodes.Failure;
    }

    /// <summary>Connects with the worker's configuration (appsettings.json, environment, <c>Redis:Security</c> and its
    /// password file; <c>--redis</c> overrides <c>Redis:Configuration</c>), runs <paramref name="action"/>, maps failures to
    /// exit codes (bad names or settings → 2, store down → 1).</summary>
    internal static async Task<int> WithStore(ParseResult parse, Option<string?> redisOption, string verb, Func<RedisBankStore, Task<int>> action)
    {
        var overrides = new Dictionary<string, string?>();
        if (parse.GetValue(redisOption) is { Length: > 0 } flag) overrides["Redis:Configuration"] = flag;
        Worker.ScreeningSettings settings;
        try
        {
            settings = Worker.ScreeningSettings.Load(overrides);
        }
        catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException)
        {
            Console.Error.WriteLine($"moderation bank {verb}: invalid configuration: {e.Message}");
            return ExitCodes.Usage;
        }
        var configuration = settings.Redis.Configuration;
        if (string.IsNullOrWhiteSpace(configuration))
        {
            Console.Error.WriteLine($"moderation bank {verb}: --redis CONFIG is required (or Redis:Configuration: appsettings.json, env Redis__Configuration)");
            return ExitCodes.Usage;
        }
        ConfigurationOptions options;
        try
        {
            // TLS, the ACL user and the password (read from Redis:Security:PasswordFile, never from the command line).
            options = RedisConnector.CreateOptions(configuration, settings.Redis.Security);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"moderation bank {verb}: invalid configuration: {e.Message}");
            return ExitCodes.Usage;
        }
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
            return await action(new RedisBankStore(redis));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"moderation bank {verb}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Console.Error.WriteLine($"moderation bank {verb}: Redis unavailable: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"moderation bank {verb}: {e.Message}");
            return ExitCodes.Failure;
        }
    }
}
