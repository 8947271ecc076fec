import CanoSDK
import Testing

@Suite struct HexTests {
    @Test func writesTwoLowercaseDigitsPerByte() {
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.lowercase((0...255).map(UInt8.init)).count == 512)
        // Any sequence of bytes: a slice, as the group fingerprint takes a digest's prefix.
        #expect(Hex.lowercase([0xde, 0xad, 0xbe, 0xef][1...2]) == "adbe")
    }
}
