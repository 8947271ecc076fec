import CanoSDK
