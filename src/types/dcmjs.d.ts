// dcmjs ships no type declarations; Custos uses only its standard data dictionary.
declare module 'dcmjs' {
  interface DictionaryEntry { tag: string; vr: string; vm: string; name: string; version: string }
  const dcmjs: {
    data: { DicomMetaDictionary: { dictionary: Record<string, DictionaryEntry | undefined>; nameMap: Record<string, DictionaryEntry | undefined> } };
  };
  export default dcmjs;
}
