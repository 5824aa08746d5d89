/* emit.c: writes .h2 text for a hardware block, every field and energy entry with its unit and
 * source, so `h2c explore` can hand its best design back to `h2c compile`. */
#include "frontend.h"

#include <string.h>

/* .h2 strings have four escapes (\n \t \" \\) and take every other byte but NUL as it is (no \x: that
 * is IR text's, write_quoted). */
void fe_write_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (*s == '\t')
            fputs("\\t", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

/* A value of kind k as .h2 text: the printer's exact form with a space before the unit. */
static void write_value(FILE *out, double v, UnitKind k) {
    char buf[64];
    unit_format(buf, sizeof buf, v, k);
    if (k == UK_NONE || k == UK_PERCENT) {
        fputs(buf, out);
        return;
    }
    size_t i = 0;
    while (buf[i] && (strchr("0123456789.-+", buf[i]) || ((buf[i] == 'e' || buf[i] == 'E') && i > 0 &&
                                                           strchr("0123456789", buf[i + 1] ? buf[i + 1] : 'x'))))
        i++;
    fprintf(out, "%.*s %s", (int)i, buf, buf + i);
}

void fe_write_hardware(FILE *out, const Hardware *hw, const char *name) {
    fprintf(out, "hardware %s {\n", name);
    for (int i = 0; i < HWF_COUNT_; i++) {
        const FieldDesc *f = &hw_fields[i];
        double v = *(const double *)((const char *)hw + f->offset);
        fprintf(out, "  %s = ", f->path);
        if (f->flags & F_ENUM_PREC)
            fputs(precision_name((Precision)v), out);
        else
            write_value(out, v, f->kind);
        fputs(";\n", out);
    }
    fputs("  energy {\n", out);
    for (int i = 0; i < EF_COUNT_; i++) {
        const EnergyEntry *e = &hw->energy[i];
        fprintf(out, "    %s = ", energy_names[i]);
        if (e->table) {
            fputc('[', out);
            for (int j = 0; j < e->ntable; j++) {
                fputs(j ? ", (" : "(", out);
                write_value(out, e->table[j].freq, UK_FREQ);
                fputs(", ", out);
                write_value(out, e->table[j].pj, UK_ENERGY_MAC);
                fputc(')', out);
            }
            fputc(']', out);
        } else {
            write_value(out, e->value, energy_kinds[i]);
        }
        fputs(" from ", out);
        fe_write_string(out, e->source && *e->source ? e->source : "h2c default");
        fputs(";\n", out);
    }
    fputs("  }\n}\n", out);
}
