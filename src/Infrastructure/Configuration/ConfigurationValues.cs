using System.ComponentModel;
using System.Reflection;

using Microsoft.Extensions.Configuration;

namespace OrdersEs.Infrastructure.Configuration;

/// <summary>
/// Checks, before an options class is bound, that every value under its section converts to its property's type:
/// the binder would otherwise fail later with an exception naming the key only deep inside a stack trace.
/// </summary>
public static class ConfigurationValues
{
    /// <summary>
    /// Throws <see cref="ConfigurationException"/> for the first value under <paramref name="sectionKey"/> that the
    /// binder could not convert to the matching property of <typeparamref name="TOptions"/>. Runs once at start-up.
    /// </summary>
    /// <param name="keyName">How a property's key is spelled in messages (default: the property's name).</param>
    public static void EnsureConvertible<TOptions>(IConfiguration configuration, string sectionKey, Func<string, string>? keyName = null) =>
        EnsureConvertible(typeof(TOptions), configuration.GetSection(sectionKey), sectionKey, keyName ?? (name => name), depth: 0);

    private static void EnsureConvertible(Type type, IConfigurationSection section, string path, Func<string, string> keyName, int depth)
    {
        if (depth > 4) return;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0) continue;
            var key = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
            var child = section.GetSection(key);
            var childPath = path + ":" + keyName(key);
            var target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (target == typeof(string)) continue;
            if (IsScalar(target))
            {
                if (child.Value is { } value) EnsureConverts(target, childPath, value, nullable: target != property.PropertyType);
            }
            else if (target.IsClass)
            {
                EnsureConvertible(target, child, childPath, keyName, depth + 1);
            }
        }
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(DateTimeOffset)
        || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri);

    private static void EnsureConverts(Type type, string key, string value, bool nullable)
    {
        // As the binder: an empty value of a nullable property binds as null.
        if (nullable && value.Length == 0) return;
        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or NotSupportedException)
        {
            throw new ConfigurationException(key, value, $"not {Describe(type)}", Accepted(type));
        }
    }

    private static string Describe(Type type) =>
        type == typeof(bool) ? "a boolean"
        : type == typeof(TimeSpan) ? "a duration"
        : type.IsEnum ? $"one of the {type.Name} values"
        : IsWholeNumber(type) ? "a whole number"
        : type == typeof(double) || type == typeof(float) || type == typeof(decimal) ? "a number"
        : $"a {type.Name}";

    private static string Accepted(Type type) =>
        type == typeof(bool) ? "'true' or 'false'"
        : type == typeof(TimeSpan) ? "a duration as [d.]hh:mm:ss[.fff], such as 00:00:30 for 30 seconds"
        : type.IsEnum ? string.Join(", ", Enum.GetNames(type))
        : IsWholeNumber(type) ? "digits, such as 10"
        : "a value of that type";

    private static bool IsWholeNumber(Type type) =>
        type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
        || type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte);
}
