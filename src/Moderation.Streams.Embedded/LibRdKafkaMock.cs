using System.Reflection;
using System.Runtime.InteropServices;

namespace Moderation.Streams.Embedded;

/// <summary>
/// The few librdkafka entry points the embedded broker needs (<c>rdkafka.h</c>, <c>rdkafka_mock.h</c>).
/// Confluent.Kafka does not expose the mock cluster API, so it is bound here against the same native
/// library Confluent.Kafka ships.
/// </summary>
internal static unsafe partial class LibRdKafkaMock
{
    private const string Library = "librdkafka";

    public const int ProducerType = 0; // RD_KAFKA_PRODUCER
    public const int ConfOk = 0;       // RD_KAFKA_CONF_OK
    public const int ErrorStringSize = 512;

    static LibRdKafkaMock() =>
        NativeLibrary.SetDllImportResolver(typeof(LibRdKafkaMock).Assembly, Resolve);

    /// <summary>Makes sure the resolver is registered before the first call (runs the static constructor).</summary>
    public static void EnsureResolver() { }

    [LibraryImport(Library)]
    public static partial nint rd_kafka_conf_new();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Library)]
    public static partial void rd_kafka_conf_destroy(nint conf);

    [LibraryImport(Library)]
    public static partial nint rd_kafka_new(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Library)]
    public static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(Library)]
    public static partial nint rd_kafka_err2str(int err);

    [LibraryImport(Library)]
    public static partial nint rd_kafka_handle_mock_cluster(nint rk);

    [LibraryImport(Library)]
    public static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library)]
    public static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint mcluster, int delayMs);

    [LibraryImport(Library)]
    public static partial void rd_kafka_mock_push_request_errors_array(nint mcluster, short apiKey, nuint count, int* errors);

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";

    // On Debian the plain librdkafka.so build fails to load (it wants libsasl2.so.3); Confluent.Kafka then
    // falls back to its CentOS 8 and Alpine builds, and so do we. Same file → same loaded library.
    private static readonly string[] Candidates = ["centos8-librdkafka.so", "alpine-librdkafka.so"];

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Library) return 0;
        if (NativeLibrary.TryLoad(libraryName, assembly, searchPath, out var handle)) return handle;

        var directories = new[]
        {
            AppContext.BaseDirectory,
            Path.GetDirectoryName(assembly.Location) ?? AppContext.BaseDirectory,
        };
        foreach (var directory in directories.Distinct())
        {
            foreach (var name in Candidates)
            {
                foreach (var path in new[] { Path.Combine(directory, name), Path.Combine(directory, "runtimes", "linux-x64", "native", name) })
                {
                    if (File.Exists(path) && NativeLibrary.TryLoad(path, out handle)) return handle;
                }
            }
        }
        return 0; // the runtime then throws DllNotFoundException naming librdkafka
    }
}
