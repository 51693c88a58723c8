// The bundled Menagerie rule set (docs/engines.md#yara). Rules describe what a sample holds,
// they are not verdicts. Add rules in /rules/*.yar (a mounted rules volume) or here.

rule pe_executable {
  meta: description = "a Windows PE executable (MZ header pointing at a PE signature)"
  condition: uint16(0) == 0x5a4d and uint32(uint32(0x3c)) == 0x00004550
}

rule elf_executable {
  meta: description = "an ELF executable or library"
  condition: uint32(0) == 0x464c457f
}

rule office_vba_macro {
  meta: description = "VBA macro source or project markers"
  strings:
    $attr = "Attribute VB_Name" nocase
    $proj = "_VBA_PROJECT" wide ascii
    $auto = /(Auto|Document|Workbook)_?(Open|Close)/ nocase
  condition: $attr or ($proj and $auto)
}

rule powershell_encoded_command {
  meta: description = "a PowerShell command line with an encoded command"
  strings:
    $ps = "powershell" nocase ascii wide
    $enc = /-e(nc|ncodedcommand)?\s+[A-Za-z0-9+\/=]{16,}/ nocase
  condition: $ps and $enc
}

rule embedded_url {
  meta: description = "an http(s) URL"
  strings:
    $url = /https?:\/\/[A-Za-z0-9.\-]{4,253}(\/[\x21-\x7e]{0,200})?/
  condition: $url
}

rule eicar_test_file {
  meta: description = "the EICAR anti-virus test string"
  strings:
    $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
  condition: $eicar
}

rule zip_archive {
  meta: description = "a zip archive (local file header at offset 0)"
  condition: uint32(0) == 0x04034b50
}
