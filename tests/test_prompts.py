from ivr.dialogue.prompts import say_phone


def test_a_carriers_e164_number_is_read_as_the_caller_knows_it():
    # Twilio and Asterisk give +81…: a caller in Nara knows 0742…, not 8、1、7、4、2…
    assert say_phone("+81742000000") == say_phone("0742000000") == "0、7、4、2の、0、0の、0、0、0、0"
    assert say_phone("+819012345678") == say_phone("090-1234-5678")
